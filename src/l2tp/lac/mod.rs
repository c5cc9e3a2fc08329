//! The LAC endpoint: asks a contact LNS for sessions, follows redirects, relays PPP frames.
//!
//! Flow of a call ([`Lac::open_session`]): the LAC opens (or reuses) a tunnel to the contact LNS
//! (SCCRQ with `LoadBalanceCapable` when [`LacConfig::tunnel_level_request`]), then sends ICRQ
//! with `LoadBalanceCapable` (when [`LacConfig::advertise_load_balance`]). Answers:
//!
//! * ICRP: ICCN is sent, [`Event::SessionUp`].
//! * ICRP with `RedirectTarget`: CDN (result 3) frees the contact's record, [`Event::Redirected`],
//!   and the call starts again at the target (tunnel reused if one is up).
//! * CDN with Result 2 / Error 9: redirect to the first listed address not yet visited; Error 7:
//!   to the next of [`LacConfig::alternates`] not yet visited. Other CDNs: [`Event::SessionDown`].
//! * StopCCN answering our SCCRQ with `RedirectTarget`, Error 9 or Error 7: every call waiting on
//!   that tunnel is redirected the same way.
//!
//! Idle tunnels: once a tunnel has carried no session for [`LacConfig::idle_tunnel_timeout`]
//! (10 s by default), the LAC closes it with StopCCN Result Code 1 (RFC 2661 5.7 teardown: the
//! StopCCN is retransmitted until acknowledged, then the tunnel id is held for
//! [`Config::hold_period`]); a call in the meantime reuses the tunnel and cancels the close, a call
//! after it opens a fresh tunnel.
//!
//! RFC 4951 failover ([`Config::failover`]): the LAC advertises the Failover Capability, keeps a
//! tunnel whose LNS stops answering for the Recovery Time the LNS advertised (a call waiting for
//! ICRP on it waits too), answers the LNS's recovery SCCRQ with the Suggested Control Sequence and
//! resumes the tunnel with the recovered LNS, and answers FSQ with FSR; a call whose session the
//! LNS's FSR says it does not have ends ([`Event::SessionDown`]).
//!
//! Redirection is bounded: at most [`LacConfig::max_redirects`] hops per call, never to an LNS that
//! already redirected (or refused) it. Calls are bounded by [`LacConfig::max_calls`];
//! [`Lac::open_session`] refuses more with [`CommandError::Full`].
//!
//! Tunnel plans ([`Lac::open_call`] with a [`CallRequest`] holding a [`TunnelPlan`]): the call
//! goes to the endpoints of its plan, level by level, instead of the contact LNS; redirects are
//! steps inside the plan and failed LNSs go on a timed deny-list ([`plan`] module docs).
//!
//! Call order: after any `handle_*` or command, drain [`Lac::poll_transmit`], [`Lac::poll_event`],
//! [`Lac::poll_data`], then read [`Lac::poll_timeout`].

mod answers;
pub mod plan;
mod route;

pub use plan::{
    DenyReason, PlanEndpoint, PlanError, PlanPolicy, TaggedAttribute, TunnelAttribute, TunnelPlan,
};

use super::call::CallDetails;
use super::session::SessionState;
use super::tunnel::{Core, TunnelSecret, TunnelState, Up};
use super::wire::avp::{AvpValue, CallErrors};
use super::wire::{Avp, AvpType, ControlMessage, MessageType, ResultCode};
use super::{
    CallId, Close, CommandError, Config, ConfigError, ConfigField, Event, InputError, SessionRef,
    Table,
};
use crate::Transmit;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// CDN Result Codes that put a plan call's LNS on the deny-list (RFC 2661 4.4.2): 4 temporary
/// and 5 permanent lack of resources, 8 busy, 10 our time-out waiting for the LNS.
const BUSY: [u16; 4] = [4, 5, 8, 10];

/// LAC configuration.
#[derive(Debug, Clone)]
pub struct LacConfig {
    /// Tunnel and channel parameters.
    pub common: Config,
    /// The contact LNS: neither port 0 nor the unspecified address
    /// ([`ConfigError::UnusableAddress`] naming [`ConfigField::ContactLns`]).
    pub contact_lns: SocketAddr,
    /// Say in ICRQ that we follow redirects (`LoadBalanceCapable`). Default true.
    pub advertise_load_balance: bool,
    /// Also say it in SCCRQ (tunnel-level request). Default false.
    pub tunnel_level_request: bool,
    /// Redirect hops per call: a redirect beyond them is taken as the refusal it carries
    /// (module docs). Default 3.
    pub max_redirects: u8,
    /// LNSs to try on Error 7 "try another": none with port 0 or the unspecified address
    /// ([`ConfigError::UnusableAddress`] naming [`ConfigField::Alternates`]). Default empty.
    pub alternates: Vec<SocketAddr>,
    /// Calls at once (more: [`CommandError::Full`] from [`Lac::open_call`]). Default 4096.
    pub max_calls: usize,
    /// Close a tunnel once it has had no session (and no call waiting on it) for this long:
    /// StopCCN Result Code 1 ("general request to clear control connection"), reported as
    /// [`Event::TunnelDown`] with that result; the tunnel id is then held for
    /// [`Config::hold_period`] (after the StopCCN is acknowledged) before it is freed. The timer
    /// starts when the last session goes and is cancelled by a new call on the tunnel; a call
    /// after the close opens a fresh tunnel. If the tunnel still has control messages
    /// unacknowledged when the timer fires, the close waits another period. `None`: tunnels stay
    /// until the peer closes them or stops answering (bounded by [`Config::max_tunnels`]).
    /// Default 10 s.
    pub idle_tunnel_timeout: Option<Duration>,
    /// How a call's plan chooses within a level ([`PlanPolicy`]). Default weighted.
    pub plan_policy: PlanPolicy,
    /// How long an LNS that failed a plan call (timed out, sent StopCCN, or a CDN with a busy
    /// result: RFC 2661 4.4.2 CDN Result 4, 5, 8 or 10) stays on the deny-list: plan calls skip
    /// it until then. At most a day; default 60 s.
    pub deny_time: Duration,
    /// Entries of the deny-list; when full, the entry expiring first makes room (counted in
    /// [`super::Stats::deny_list_evictions`]); 0 keeps no deny-list. Default 256.
    pub max_denied: usize,
}

impl LacConfig {
    /// A LAC of the contact LNS `contact_lns`, with defaults.
    pub fn new(contact_lns: SocketAddr) -> Self {
        LacConfig {
            common: Config::default(),
            contact_lns,
            advertise_load_balance: true,
            tunnel_level_request: false,
            max_redirects: 3,
            alternates: Vec::new(),
            max_calls: 4096,
            idle_tunnel_timeout: Some(Duration::from_secs(10)),
            plan_policy: PlanPolicy::Weighted,
            deny_time: Duration::from_secs(60),
            max_denied: 256,
        }
    }
}

/// Where a call stands (RFC 2661 7.4.1, the LAC's incoming-call states), with the ids each state
/// has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// No tunnel chosen yet: a new call, or one just redirected.
    Idle,
    /// Waiting for this tunnel to the LNS to be established.
    WaitTunnel(u16),
    /// ICRQ sent on this session, waiting for ICRP.
    WaitReply(SessionRef),
    /// ICCN sent: established.
    Established(SessionRef),
}

impl CallState {
    /// The tunnel the call uses or waits for.
    fn tunnel(self) -> Option<u16> {
        match self {
            CallState::Idle => None,
            CallState::WaitTunnel(t) => Some(t),
            CallState::WaitReply(s) | CallState::Established(s) => Some(s.tunnel),
        }
    }

    /// The session the call has (set-up or established).
    fn session(self) -> Option<SessionRef> {
        match self {
            CallState::WaitReply(s) | CallState::Established(s) => Some(s),
            CallState::Idle | CallState::WaitTunnel(_) => None,
        }
    }
}

/// What a call asks for ([`Lac::open_call`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallRequest {
    /// The call's tunnel plan; empty (the default): the contact LNS
    /// ([`LacConfig::contact_lns`]), its redirects and [`LacConfig::alternates`].
    pub plan: TunnelPlan,
    /// The call's details, sent to the LNS (RFC 2661 6.6 ICRQ: Bearer Type, Physical Channel
    /// ID, Calling and Called Number, Sub-Address; 6.8 ICCN: Connect Speeds, Framing Type,
    /// proxy LCP and authentication, Private Group ID, Sequencing Required), at every LNS the
    /// call tries. Absent ones: ICRQ carries Bearer Type 2 (analog), ICCN a Tx Connect Speed of
    /// 64000 and the synchronous Framing Type when the LNS offers it.
    pub details: CallDetails,
}

impl CallRequest {
    /// A request following `plan`, without details.
    pub fn with_plan(plan: TunnelPlan) -> Self {
        CallRequest {
            plan,
            details: CallDetails::default(),
        }
    }

    /// This request with `details`.
    #[must_use]
    pub fn details(mut self, details: CallDetails) -> Self {
        self.details = details;
        self
    }
}

#[derive(Debug, Clone)]
struct Call {
    lns: SocketAddr,
    visited: Vec<IpAddr>,
    hops: u8,
    state: CallState,
    /// The plan, when the call has one.
    plan: Option<Box<plan::PlanCursor>>,
    /// Tunnel-Assignment-Id of the tunnel the call uses (plan calls).
    assignment: Option<Vec<u8>>,
    /// Our address for a new tunnel (Tunnel-Client-Endpoint).
    local: Option<IpAddr>,
    /// The tunnel secret with this LNS (Tunnel-Password; `None`: [`Config::secret`]).
    secret: Option<TunnelSecret>,
    /// What ICRQ and ICCN carry (`None`: the defaults).
    details: Option<Box<CallDetails>>,
}

/// The LAC endpoint.
pub struct Lac {
    core: Core,
    cfg: LacConfig,
    calls: BTreeMap<CallId, Call>,
    next_call: u64,
    serial: u32,
    /// LNSs plan calls skip until a time.
    deny: plan::DenyList,
    /// Tunnel-Assignment-Id of the tunnels we opened with one (removed when they close).
    assignments: BTreeMap<u16, Vec<u8>>,
}

impl std::fmt::Debug for Lac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lac")
            .field("tunnels", &self.core.tunnels.len())
            .field("calls", &self.calls.len())
            .finish()
    }
}

impl Lac {
    /// A new LAC.
    pub fn new(cfg: LacConfig, now: Instant) -> Result<Self, ConfigError> {
        cfg.common.check()?;
        if cfg.max_calls == 0 {
            return Err(ConfigError::OutOfRange(ConfigField::MaxCalls));
        }
        if cfg
            .idle_tunnel_timeout
            .is_some_and(|d| d > Duration::from_secs(86_400))
        {
            return Err(ConfigError::OutOfRange(ConfigField::IdleTunnelTimeout));
        }
        if cfg.deny_time > Duration::from_secs(86_400) {
            return Err(ConfigError::OutOfRange(ConfigField::DenyTime));
        }
        let peers = std::iter::once((ConfigField::ContactLns, cfg.contact_lns))
            .chain(cfg.alternates.iter().map(|a| (ConfigField::Alternates, *a)));
        if let Some((field, addr)) = peers.into_iter().find(|(_, a)| !crate::io::usable_peer(*a)) {
            return Err(ConfigError::UnusableAddress { field, addr });
        }
        let mut core = Core::new(cfg.common.clone(), now)?;
        core.idle_timeout = cfg.idle_tunnel_timeout;
        Ok(Lac {
            core,
            cfg,
            calls: BTreeMap::new(),
            next_call: 1,
            serial: 0,
            deny: plan::DenyList::default(),
            assignments: BTreeMap::new(),
        })
    }

    /// Asks the contact LNS for a new session: [`Lac::open_call`] with the default
    /// [`CallRequest`]. The call's fate comes as events.
    pub fn open_session(&mut self, now: Instant) -> Result<CallId, CommandError> {
        self.open_call(now, CallRequest::default())
    }

    /// Opens a call as `req` asks: to the endpoints of its plan ([`plan`] module docs), or, with
    /// an empty plan, to the contact LNS. The call's fate comes as events
    /// ([`Event::SessionUp`], or [`Event::SessionDown`] once no endpoint is left).
    ///
    /// # Errors
    /// [`CommandError::Full`] with [`Table::Calls`] when [`LacConfig::max_calls`] calls exist;
    /// [`CommandError::CallDetails`] when a detail does not fit in an AVP. No call is made.
    pub fn open_call(&mut self, now: Instant, req: CallRequest) -> Result<CallId, CommandError> {
        if self.calls.len() >= self.cfg.max_calls {
            return Err(CommandError::Full(Table::Calls));
        }
        req.details.to_avps(MessageType::ICRQ)?;
        req.details.to_avps(MessageType::ICCN)?;
        let details = (req.details != CallDetails::default()).then(|| Box::new(req.details));
        let id = CallId(self.next_call);
        self.next_call += 1;
        let plan = (!req.plan.is_empty()).then(|| {
            Box::new(plan::PlanCursor {
                plan: req.plan,
                tried: 0,
            })
        });
        let has_plan = plan.is_some();
        self.calls.insert(
            id,
            Call {
                lns: self.cfg.contact_lns,
                visited: Vec::new(),
                hops: 0,
                state: CallState::Idle,
                plan,
                assignment: None,
                local: None,
                secret: None,
                details,
            },
        );
        if has_plan {
            self.plan_step(now, id, None);
        } else {
            self.start_call(now, id);
        }
        self.process(now);
        Ok(id)
    }

    /// Closes tunnel `tunnel` (our Tunnel ID, [`Event::TunnelUp`]'s `tunnel`) now: StopCCN with
    /// `result` (RFC 2661 6.4), its sessions cleared as for any tunnel that goes down
    /// ([`Event::TunnelDown`]).
    ///
    /// The tunnel is then held for [`Config::hold_period`] (31 s by default, RFC 2661 5.7) to
    /// acknowledge the peer's retransmissions: `poll_timeout` stays `Some` until it ends, so a
    /// caller that waits for `None` before exiting waits that long.
    ///
    /// # Errors
    /// [`CommandError::NoTunnel`] when no such tunnel is held; nothing sent.
    pub fn close_tunnel(
        &mut self,
        now: Instant,
        tunnel: u16,
        result: ResultCode<'static>,
    ) -> Result<(), CommandError> {
        if self.core.tunnel_info(tunnel).is_none() {
            return Err(CommandError::NoTunnel);
        }
        self.core.close_tunnel(now, tunnel, result);
        self.process(now);
        Ok(())
    }

    /// The LNSs on the deny-list at `now`, with the time each leaves it.
    pub fn denied(&self, now: Instant) -> impl Iterator<Item = (IpAddr, Instant)> + '_ {
        self.deny.entries(now)
    }

    /// Hangs up a call: CDN (RFC 2661 6.12) with `close`'s Result Code and, when it has one,
    /// its PPP Disconnect Cause Code (RFC 3145 3.1: AVP 46, M=0), as [`Lns::close_session`]
    /// does; [`Close::default()`] is Result 3 without a cause. [`Event::SessionDown`] reports
    /// the CDN's result and cause (none when the call had no session yet: nothing is sent).
    ///
    /// # Errors
    /// [`CommandError::NoSession`] when there is no such call; [`CommandError::CallDetails`]
    /// when a message does not fit in its AVP. Nothing sent, no event.
    ///
    /// [`Lns::close_session`]: super::Lns::close_session
    pub fn close_session(
        &mut self,
        now: Instant,
        call: CallId,
        close: impl Into<Close>,
    ) -> Result<(), CommandError> {
        let close = close.into();
        close.check()?;
        let c = self.calls.remove(&call).ok_or(CommandError::NoSession)?;
        let session = c.state.session();
        let Close { result, cause } = close;
        if let Some(s) = session {
            self.core.disconnect_with_cause(
                now,
                s.tunnel,
                s.session,
                result.clone(),
                cause.clone(),
            );
        }
        // The event carries what the CDN carried (nothing when no session existed yet).
        self.core.event(Event::SessionDown {
            session,
            call: Some(call),
            result: session.map(|_| result),
            cause: session.and(cause),
        });
        self.process(now);
        Ok(())
    }

    /// Sends one PPP frame from the user to the call's LNS in an L2TP data message (RFC 2661
    /// 5.8), queued for `poll_transmit`.
    ///
    /// `frame` is the PPP frame without the serial link's framing (no HDLC flag sequences,
    /// octet stuffing or FCS, RFC 1662 sections 3.1 and 4.2): its Protocol field and
    /// information, with the HDLC Address and Control fields (0xff 0x03) in front unless the
    /// PPP peers agreed to compress them (RFC 1661 section 6.6). Linux's L2TP PPP and xl2tpd
    /// send them. It travels as given: nothing is added or stripped.
    ///
    /// # Errors
    /// [`CommandError::NoSession`] when the call is unknown or its session is not established
    /// yet ([`Event::SessionUp`] not reported); nothing queued.
    pub fn send_ppp(&mut self, call: CallId, frame: &[u8]) -> Result<(), CommandError> {
        let s = self.session_of(call).ok_or(CommandError::NoSession)?;
        self.core.send_data(s, frame)
    }

    /// Sends WAN-Error-Notify on an established call (RFC 2661 6.13).
    pub fn send_wen(
        &mut self,
        now: Instant,
        call: CallId,
        errors: CallErrors,
    ) -> Result<(), CommandError> {
        let s = self.session_of(call).ok_or(CommandError::NoSession)?;
        let peer = self
            .core
            .session_mut(s.tunnel, s.session)
            .map_or(0, |s| s.peer_header_id());
        self.core
            .send_ctrl(now, s.tunnel, ControlMessage::wen(0, peer, errors));
        Ok(())
    }

    /// RFC 4951: recovers tunnel `tunnel` (restored with [`Config::restore`]) as the failed
    /// endpoint; see `tunnel::Core::start_recovery`. The calls of a restored tunnel are not
    /// restored: its sessions carry data but belong to no [`CallId`].
    pub fn start_recovery(
        &mut self,
        now: Instant,
        tunnel: u16,
        unsure: super::UnsureSessions,
    ) -> Result<u16, CommandError> {
        let r = self.core.start_recovery(now, tunnel, unsure);
        self.process(now);
        r
    }

    /// The session a call currently uses, when established.
    pub fn session_of(&self, call: CallId) -> Option<SessionRef> {
        match self.calls.get(&call)?.state {
            CallState::Established(s) => Some(s),
            _ => None,
        }
    }

    /// The LNS a call is (being) served by.
    pub fn lns_of(&self, call: CallId) -> Option<SocketAddr> {
        self.calls.get(&call).map(|c| c.lns)
    }

    /// Number of calls (any state).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    shared_endpoint_api!();

    /// Feeds one received datagram: `from` is its source (the LNS), `to` the local address it
    /// arrived at (replies leave from it: [`Transmit::src`]), `data` the UDP payload.
    ///
    /// # Errors
    /// [`InputError`] when the datagram was not taken (malformed, unknown tunnel or session,
    /// unexpected in this state, a table full, authentication failed, ...): the endpoint's
    /// other state is unchanged and any refusal the RFC asks for is already queued. For
    /// logging; the caller goes on.
    ///
    /// [`Transmit::src`]: crate::io::Transmit::src
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        self.l2tp_input(now, from, to, data)
    }

    /// Lets due timers fire.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.l2tp_timeout(now);
    }

    /// Next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.out.pop_front()
    }

    /// Earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    fn set_state(&mut self, id: CallId, state: CallState) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.state = state;
        }
    }

    fn start_call(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let (lns, local) = (call.lns, call.local);
        let assignment = call.assignment.clone();
        let secret = call.secret.clone();
        // Reuse a tunnel to that LNS with the call's Tunnel-Assignment-Id.
        let existing = self
            .core
            .tunnels
            .values()
            .filter(|t| {
                t.peer.ip() == lns.ip()
                    && t.state != TunnelState::Closing
                    && t.recovery.is_none()
                    && self.assignments.get(&t.local_id) == assignment.as_ref()
                    && t.secret == secret
            })
            .map(|t| (t.local_id, t.state))
            .min_by_key(|(_, s)| *s != TunnelState::Established);
        match existing {
            Some((tid, TunnelState::Established)) => self.send_icrq(now, id, tid),
            Some((tid, _)) => self.set_state(id, CallState::WaitTunnel(tid)),
            None => {
                let lbc = self.cfg.tunnel_level_request && self.cfg.advertise_load_balance;
                let from = local.map(|ip| SocketAddr::new(ip, super::L2TP_PORT));
                let opened = self.core.open_tunnel_with(now, lns, from, lbc, secret);
                match opened {
                    Some(tid) => {
                        if let Some(a) = assignment {
                            self.assignments.insert(tid, a);
                        }
                        self.set_state(id, CallState::WaitTunnel(tid));
                    }
                    None => self.call_failed(now, id, None, None),
                }
            }
        }
    }

    fn send_icrq(&mut self, now: Instant, id: CallId, tid: u16) {
        // The call is on `tid` from now on, even if no session can be had there.
        self.set_state(id, CallState::WaitTunnel(tid));
        let serial = self.serial.wrapping_add(1);
        let sequencing = self.cfg.common.sequencing_required;
        let Some(s) = self
            .core
            .new_session(tid, 0, SessionState::WaitReply, serial)
        else {
            self.call_failed(now, id, None, None);
            return;
        };
        self.serial = serial;
        s.call = Some(id);
        s.sequencing = sequencing;
        s.sequencing_required = sequencing;
        let sid = s.local_id;
        let mut m = ControlMessage::icrq(0, sid, self.serial);
        if let Some(d) = self.calls.get(&id).and_then(|c| c.details.as_deref()) {
            // Checked by `open_call`: every detail fits.
            let _ = d.emit(&mut m);
        }
        if m.get(AvpType::BEARER_TYPE).is_none() {
            m.push(Avp::mandatory(AvpValue::BearerType(2)));
        }
        if self.cfg.advertise_load_balance {
            m.push(Avp::optional(AvpValue::LoadBalanceCapable {
                vendor: self.cfg.common.enterprise,
            }));
        }
        let sref = SessionRef {
            tunnel: tid,
            session: sid,
        };
        self.set_state(id, CallState::WaitReply(sref));
        // The set-up timer runs from the ICRQ's first transmission (`Core::send_setup`).
        self.core.send_setup(now, tid, sid, m);
    }

    fn process(&mut self, now: Instant) {
        while let Some(up) = self.core.ups.pop_front() {
            match up {
                Up::Sccrq(s) => {
                    let super::tunnel::NewSccrq { from, to, msg } = *s;
                    // A LAC takes tunnels from an LNS too (outgoing calls).
                    let _ = self.core.accept_tunnel(now, from, to, msg);
                }
                Up::TunnelUp(tid) => {
                    let waiting: Vec<CallId> = self
                        .calls
                        .iter()
                        .filter(|(_, c)| c.state == CallState::WaitTunnel(tid))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in waiting {
                        self.send_icrq(now, id, tid);
                    }
                }
                Up::TunnelClosed(c) => {
                    let super::tunnel::TunnelClosed {
                        tunnel,
                        was_setup,
                        result,
                        redirect,
                        ..
                    } = *c;
                    self.assignments.remove(&tunnel);
                    self.on_tunnel_closed(now, tunnel, was_setup, result, redirect);
                }
                Up::SessionMsg { session, msg } => self.session_msg(now, session, msg),
                Up::SessionRefused(r) => {
                    let super::tunnel::SessionRefused {
                        tunnel,
                        session,
                        result,
                    } = *r;
                    match session.call {
                        // The call's session was cleared with our CDN: the call ends.
                        Some(id) => self.fail_call(id, Some(result)),
                        None => self.core.session_down(
                            Some(SessionRef {
                                tunnel,
                                session: session.local_id,
                            }),
                            None,
                            Some(result),
                        ),
                    }
                }
                Up::SessionTimer(tid, sid) => self.on_session_timer(now, tid, sid),
            }
        }
    }

    /// No ICRP in time (RFC 2661 5.8, 7.4.1): when the LNS acknowledges nothing (a message of ours
    /// retransmitted and nothing acknowledged for half of
    /// [`crate::l2tp::Config::session_setup_timeout`], never less than the channel's
    /// retransmission span: `Core::silent_after`) the
    /// tunnel is given up (its calls start again on a new one, bounded by `max_redirects`);
    /// otherwise the session is cleared with CDN Result 10 and the call fails. A message just
    /// retransmitted after a loss does not make a silent LNS (a HELLO lost twice as
    /// the set-up timer of a call whose ICRP was lost with a failed LNS ran out gave up the
    /// tunnel the backup had taken over, with its established calls).
    fn on_session_timer(&mut self, now: Instant, tid: u16, sid: u16) {
        let Some(call) = self
            .core
            .session_mut(tid, sid)
            .filter(|s| s.state == SessionState::WaitReply)
            .map(|s| s.call)
        else {
            return;
        };
        let quiet = self.core.silent_after();
        let silent = self.core.tunnels.get(&tid).is_some_and(|t| {
            t.channel.retransmitting() && t.channel.unacknowledged_for(now) >= quiet
        });
        if silent {
            // The LNS acknowledges nothing: the tunnel is given up, unless RFC 4951 keeps it for
            // the LNS's recovery; then the call waits for it: a recovery clears it silently when
            // its recovery tunnel is up (3.3 Step I, `tunnel::recovery`), no recovery clears it
            // with the tunnel.
            if !self.core.awaiting_recovery(tid) {
                self.core.channel_dead(now, tid);
            }
            if self.core.awaiting_recovery(tid) {
                self.core.arm_setup(now, tid, sid);
            }
            return;
        }
        let rc = self.core.setup_timed_out(now, tid, sid);
        if let Some(id) = call {
            self.call_failed(now, id, Some(rc), Some(DenyReason::Timeout));
        }
    }
}
