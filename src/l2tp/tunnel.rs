//! The tunnel state machine (RFC 2661 section 7.2) and the machinery both endpoints share:
//! tunnels by id, their control channels, their sessions, one [`TimerQueue`] for every timer.
//!
//! Tunnel establishment: SCCRQ / SCCRP / SCCCN, with the Tie Breaker (RFC 2661 4.4.3: when both
//! sides open a tunnel to each other at once the request with the lower Tie Breaker survives and
//! the other side silently drops its own; on equal values both drop theirs; a request without a
//! Tie Breaker loses to one with it),
//! optional challenge/response (RFC 2661 5.1.1: `MD5(message type, secret, challenge)`), hidden
//! AVPs when configured, HELLO after `hello_interval` without any message (control, ZLB or data)
//! from the peer on the tunnel (RFC 2661 5.5, 6.5), StopCCN with
//! a Result Code, and a hold period after StopCCN during which the closed tunnel still
//! acknowledges the peer's retransmissions (RFC 2661 5.7; the sender of the StopCCN keeps the
//! tunnel at least until the StopCCN is acknowledged or its retransmissions run out). On a LAC, an
//! established tunnel left without sessions is closed after the idle timeout (StopCCN Result 1).
//!
//! Every control message the channel takes is acknowledged; one the machines cannot take is
//! answered in protocol terms (`refusal`): an SCCRQ or SCCRP of a Protocol Version other than 1.0
//! with Result 5, the Error Code naming 1.0 (RFC 2661 4.4.2, 4.4.3); an unrecognised AVP with M=1
//! (RFC 2661 4.1) with
//! Result 2 / Error 8, a missing required AVP (RFC 2661 section 6) with Result 2 / Error 6, an
//! Assigned Tunnel/Session ID of 0 with Result 2 / Error 3; in a tunnel message by clearing the
//! tunnel (StopCCN; to an SCCRQ statelessly, no tunnel kept), in a session message by clearing the
//! session (CDN; the tunnel stays). An unknown message type with M=1 in its Message Type AVP clears
//! the tunnel (StopCCN Result 2 / Error 8, RFC 2661 4.4.1); with M=0 it is ignored. StopCCN and
//! CDN are honoured whatever they carry (they clear what a refusal would). Headers carry the
//! peer's Tunnel and Session IDs as soon as they are known, refusals of the assigning message
//! included (RFC 2661 3.1, 4.4.3, 4.4.4).

use super::channel::{Channel, ChannelConfig};
use super::session::{Session, SessionState};
use super::wire::avp::AvpValue;
use super::wire::{
    Avp, AvpType, ControlMessage, ErrorCode, Message, MessageType, ParseOptions, ResultCode,
    ResultCodeValue, challenge_response,
};
use super::{Config, ConfigError, Event, InputError, SessionRef};
use crate::io::{TokenBucket, ct_eq};
use crate::{Rng, TimerQueue, Transmit};
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A hasher for the endpoint's own 16-bit ids (tunnel and session ids it chose at random): a
/// multiplicative mix, much cheaper than SipHash. Never used for keys a peer chooses.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by our own ids.
pub type IdMap<V> = HashMap<u16, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Where a tunnel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelState {
    /// SCCRQ sent, waiting for SCCRP.
    WaitCtlReply,
    /// SCCRP sent, waiting for SCCCN.
    WaitCtlConn,
    /// Established.
    Established,
    /// StopCCN sent or received: kept for the hold period, then removed.
    Closing,
}

/// One tunnel.
#[derive(Debug)]
pub struct Tunnel {
    /// Our Tunnel ID.
    pub local_id: u16,
    /// The peer's Tunnel ID (0 until known).
    pub peer_id: u16,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Our address the peer talks to.
    pub local: Option<SocketAddr>,
    /// State.
    pub state: TunnelState,
    /// The control channel.
    pub channel: Channel,
    /// Sessions by our Session ID.
    pub sessions: IdMap<Session>,
    /// Challenge we sent, to check the peer's response.
    pub our_challenge: Option<[u8; 16]>,
    /// Our Tie Breaker (initiator).
    pub tie_breaker: Option<u64>,
    /// The peer said in SCCRQ it can be redirected.
    pub peer_load_balance_capable: bool,
    /// We asked for the tunnel with LoadBalanceCapable (LAC).
    pub requested_with_lbc: bool,
    /// The Framing Capabilities the peer advertised in its SCCRQ or SCCRP (RFC 2661 4.4.3: bit
    /// value 1 synchronous, 2 asynchronous; 0 until known). Framing Types we send are chosen
    /// among them (`type_within`).
    pub peer_framing_capabilities: u32,
    /// The Bearer Capabilities the peer advertised (RFC 2661 4.4.3: bit value 1 digital, 2
    /// analog, for outgoing calls), `None` when it sent none.
    pub peer_bearer_capabilities: Option<u32>,
    /// StopCCN result received or sent.
    pub stop_result: Option<ResultCode<'static>>,
    /// When the last message (control, ZLB or data) came from the peer on this tunnel: HELLO is
    /// due `hello_interval` after it (RFC 2661 5.5, 6.5).
    pub last_rx: Instant,
}

/// The Framing Capabilities and Bearer Capabilities an SCCRQ or SCCRP advertises (RFC 2661
/// 4.4.3; Framing Capabilities is required there, 0 if missing).
fn advertised_capabilities(m: &ControlMessage<'_>) -> (u32, Option<u32>) {
    let framing = match m.get(AvpType::FRAMING_CAPABILITIES) {
        Some(AvpValue::FramingCapabilities(v)) => *v,
        _ => 0,
    };
    let bearer = match m.get(AvpType::BEARER_CAPABILITIES) {
        Some(AvpValue::BearerCapabilities(v)) => Some(*v),
        _ => None,
    };
    (framing, bearer)
}

/// A Bearer Type or Framing Type for a call that falls within the peer's capabilities `caps`
/// (RFC 2661 4.4.3 Bearer / Framing Capabilities, 4.4.4 Bearer / Framing Type: bit value 1 is
/// digital bearer or synchronous framing, 2 analog bearer or asynchronous framing). `preferred`
/// (what the call asks for) if the peer supports it, else the other type the peer supports;
/// `None` when the peer supports neither.
pub(crate) fn type_within(caps: u32, preferred: u32) -> Option<u32> {
    [preferred, 1, 2]
        .into_iter()
        .find(|&t| (t == 1 || t == 2) && caps & t != 0)
}

/// Timer keys of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Retransmission of a tunnel's control channel.
    Channel(u16),
    /// HELLO keepalive.
    Hello(u16),
    /// End of the hold period of a closed tunnel.
    Hold(u16),
    /// A tunnel without sessions is closed when this fires (LAC's `idle_tunnel_timeout`).
    Idle(u16),
    /// A per-session timer (redirect hold on the contact LNS).
    Session(u16, u16),
}

/// What the tunnel layer hands up to the role (LAC or LNS).
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum Up {
    /// A new SCCRQ (not a retransmission) from `from`: the role accepts or refuses it.
    Sccrq {
        from: SocketAddr,
        to: SocketAddr,
        msg: ControlMessage<'static>,
    },
    TunnelUp(u16),
    /// The tunnel failed or was stopped; its sessions are listed (already removed).
    TunnelClosed {
        tunnel: u16,
        was_setup: bool,
        result: Option<ResultCode<'static>>,
        redirect: Option<IpAddr>,
        sessions: Vec<Session>,
    },
    /// A session-level control message, in order.
    SessionMsg {
        tunnel: u16,
        msg: ControlMessage<'static>,
    },
    SessionTimer(u16, u16),
    /// A session was cleared with CDN `result` because of a message it could not take (already
    /// removed).
    SessionRefused {
        tunnel: u16,
        session: Session,
        result: ResultCode<'static>,
    },
}

/// The Protocol Version this implementation speaks (RFC 2661 4.4.3: version 1, revision 0).
const PROTOCOL_VERSION: u8 = 1;
/// See [`PROTOCOL_VERSION`].
const PROTOCOL_REVISION: u8 = 0;
/// The Error Code of a StopCCN with Result Code 5: the highest version supported (RFC 2661
/// 4.4.2), laid out as the Protocol Version AVP's value (Ver octet, then Rev octet), so 1.0.
const HIGHEST_VERSION_SUPPORTED: ErrorCode =
    ErrorCode(u16::from_be_bytes([PROTOCOL_VERSION, PROTOCOL_REVISION]));

/// How a received control message is refused, when it cannot be taken: the Result 2 error code
/// and, for an SCCRQ (answered without keeping state), the error the endpoint returns.
///
/// * an SCCRQ or SCCRP of a Protocol Version other than 1.0 (RFC 2661 4.4.3): Result Code 5,
///   the Error Code naming version 1.0, the highest supported (4.4.2);
/// * an AVP with M=1 that is not recognised: Error 8 (RFC 2661 4.1);
/// * an AVP RFC 2661 section 6 requires is missing: Error 6. Exception: ICCN and OCCN without
///   (Tx) Connect Speed or Framing Type (6.8, 6.11) are taken, as deployed LACs send them so;
/// * an Assigned Tunnel ID or Assigned Session ID of 0 (4.4.3, 4.4.4: the id is non-zero):
///   Error 3.
///
/// StopCCN and CDN are never refused: they clear the tunnel or session anyway.
pub(crate) fn refusal(m: &ControlMessage<'_>) -> Option<(ResultCode<'static>, InputError)> {
    let mt = m.message_type()?;
    if mt == MessageType::STOPCCN || mt == MessageType::CDN {
        return None;
    }
    let rc = |e: ErrorCode, text: String| {
        ResultCode::with_error(ResultCodeValue(2), e, Cow::Owned(text.into_bytes()))
    };
    // RFC 2661 4.4.3 (Protocol Version): this protocol is version 1, revision 0. 4.4.2: a
    // requester of another version gets StopCCN Result Code 5, whose Error Code gives the
    // highest version supported. Checked first: another version's message may carry AVPs this
    // one does not know.
    if mt == MessageType::SCCRQ || mt == MessageType::SCCRP {
        if let Some((version, revision)) = m
            .protocol_version()
            .filter(|&v| v != (PROTOCOL_VERSION, PROTOCOL_REVISION))
        {
            return Some((
                ResultCode::with_error(
                    ResultCodeValue::STOPCCN_BAD_VERSION,
                    HIGHEST_VERSION_SUPPORTED,
                    Cow::Owned(
                        format!("protocol version {version}.{revision} not supported").into_bytes(),
                    ),
                ),
                InputError::UnsupportedVersion { version, revision },
            ));
        }
    }
    if let Some((vendor, avp)) = m.unknown_mandatory() {
        return Some((
            rc(
                ErrorCode::UNKNOWN_MANDATORY_AVP,
                format!("unrecognised mandatory AVP {} of vendor {vendor}", avp.0),
            ),
            InputError::UnknownMandatoryAvp { vendor, avp },
        ));
    }
    let lenient = matches!(mt, MessageType::ICCN | MessageType::OCCN);
    let missing = mt.mandatory_avps().iter().copied().find(|&a| {
        !(lenient && (a == AvpType::TX_CONNECT_SPEED || a == AvpType::FRAMING_TYPE)) && !m.has(a)
    });
    if let Some(avp) = missing {
        return Some((
            rc(ErrorCode::VENDOR_ERROR, format!("{mt} lacks {avp}")),
            InputError::MissingAvp { message: mt, avp },
        ));
    }
    let zero = if m.assigned_tunnel_id() == Some(0) {
        Some(AvpType::ASSIGNED_TUNNEL_ID)
    } else if m.assigned_session_id() == Some(0) {
        Some(AvpType::ASSIGNED_SESSION_ID)
    } else {
        None
    };
    zero.map(|avp| {
        (
            rc(ErrorCode::BAD_VALUE, format!("{mt} assigns id 0 ({avp})")),
            InputError::MissingAvp { message: mt, avp },
        )
    })
}

/// Where received PPP frames go: (session, the LAC's call, frame).
pub(crate) type DataSink<'a> = dyn FnMut(SessionRef, Option<u64>, &[u8]) + 'a;

/// The shared tunnel/session engine.
pub(crate) struct Core {
    pub cfg: Config,
    pub rng: Rng,
    pub timers: TimerQueue<Timer>,
    pub tunnels: IdMap<Tunnel>,
    by_peer: HashMap<(SocketAddr, u16), u16>,
    pub out: VecDeque<Transmit>,
    pub events: VecDeque<Event>,
    pub ups: VecDeque<Up>,
    pub session_count: usize,
    pub dropped_events: u64,
    /// Tunnels that received messages since the last [`Core::finish`].
    dirty: Vec<u16>,
    /// Tunnels in set-up (SCCRQ or SCCRP sent), bounded by `max_pending_tunnels`.
    pub pending_tunnels: std::collections::HashSet<u16>,
    /// Close an established tunnel that has had no session for this long (LAC only).
    pub idle_timeout: Option<std::time::Duration>,
    /// The bucket of [`Config::refusals`].
    refusals: TokenBucket,
    pub stats: super::Stats,
}

const HIDE_SET: [u16; 3] = [14, 21, 22];

impl Core {
    pub fn new(cfg: Config, now: Instant) -> Result<Self, ConfigError> {
        let rng = Rng::from_config(cfg.seed)?;
        Ok(Core {
            refusals: TokenBucket::new(cfg.refusals, now),
            stats: super::Stats::default(),
            cfg,
            rng,
            timers: TimerQueue::new(),
            tunnels: IdMap::default(),
            by_peer: HashMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            ups: VecDeque::new(),
            session_count: 0,
            dropped_events: 0,
            dirty: Vec::new(),
            pending_tunnels: Default::default(),
            idle_timeout: None,
        })
    }

    pub fn event(&mut self, e: Event) {
        if self.events.len() < self.cfg.max_events {
            self.events.push_back(e);
        } else {
            self.dropped_events += 1;
        }
    }

    fn channel_config(&self) -> ChannelConfig {
        ChannelConfig {
            receive_window: self.cfg.receive_window,
            retransmit_initial: self.cfg.retransmit_initial,
            retransmit_cap: self.cfg.retransmit_cap,
            max_retries: self.cfg.max_retries,
            max_out_of_order: self.cfg.max_out_of_order,
            max_send_queue: self.cfg.max_send_queue,
        }
    }

    /// How long a session in set-up waits for the peer's answer (LAC: ICRP; LNS: ICCN, OCRP, OCCN):
    /// `session_setup_timeout`, but never
    /// less than the time the peer's control channel may still be retransmitting that message
    /// (RFC 2661 5.8; [`ChannelConfig::give_up_after`]). A shorter wait clears, with CDN Result
    /// 10, a session the LAC already holds established (RFC 2661 7.4.1: the LAC is established
    /// once it sent ICCN) while its ICCN is still in retransmission (issue 12 fault 8).
    pub fn setup_wait(&self) -> std::time::Duration {
        self.cfg
            .session_setup_timeout
            .max(self.channel_config().give_up_after())
    }

    pub fn parse_opts(&self) -> ParseOptions<'_> {
        ParseOptions {
            enterprise: self.cfg.enterprise,
            secret: self.cfg.secret.as_deref(),
        }
    }

    /// A free Session ID on `tunnel`; `bounded`: refuse when the session limits are reached
    /// (redirect records are bounded separately by the LNS).
    pub fn alloc_session_id(&mut self, tunnel: u16, bounded: bool) -> Option<u16> {
        let t = self.tunnels.get(&tunnel)?;
        if bounded
            && (t.sessions.len() >= self.cfg.max_sessions_per_tunnel
                || self.session_count >= self.cfg.max_sessions)
        {
            return None;
        }
        for _ in 0..64 {
            let id = self.rng.nonzero_u16();
            if !t.sessions.contains_key(&id) {
                return Some(id);
            }
        }
        (1..=u16::MAX).find(|id| !t.sessions.contains_key(id))
    }

    fn alloc_tunnel_id(&mut self) -> Option<u16> {
        for _ in 0..64 {
            let id = self.rng.nonzero_u16();
            if !self.tunnels.contains_key(&id) {
                return Some(id);
            }
        }
        (1..=u16::MAX).find(|id| !self.tunnels.contains_key(id))
    }

    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    /// Hides what the configuration asks, and anything already marked hidden, adding a Random
    /// Vector and padding (RFC 2661 4.3).
    fn prepare(&mut self, mut msg: ControlMessage<'static>) -> ControlMessage<'static> {
        let Some(secret) = self.cfg.secret.clone() else {
            return msg;
        };
        let mut any = false;
        for a in msg.avps.iter_mut().skip(1) {
            let (v, t) = a.key();
            if self.cfg.hide_avps && v == 0 && HIDE_SET.contains(&t.0) {
                a.hidden = true;
            }
            any |= a.withheld();
        }
        if any {
            let mut rv = [0u8; 16];
            self.rng.fill_bytes(&mut rv);
            msg.avps.insert(
                1,
                Avp::mandatory(AvpValue::RandomVector(Cow::Owned(rv.to_vec()))),
            );
            // Cannot fail: a Random Vector precedes every hidden AVP. Were it to, the AVPs would
            // stay withheld by the emitter, never sent in clear.
            let _ = msg.hide_padded(&secret, self.cfg.hidden_pad_block, &mut self.rng);
        }
        msg
    }

    /// Queues a control message on tunnel `tid` (reliable delivery) and flushes.
    pub fn send_ctrl(&mut self, now: Instant, tid: u16, msg: ControlMessage<'static>) -> bool {
        let msg = self.prepare(msg);
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        let ok = t.channel.send(now, msg).is_ok();
        self.flush(now, tid);
        ok
    }

    /// Moves the channel's datagrams out and re-arms its timer.
    pub fn flush(&mut self, _now: Instant, tid: u16) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        while let Some(b) = t.channel.poll_transmit() {
            self.out.push_back(Transmit {
                dst: t.peer,
                src: t.local,
                link_dst: None,
                payload: b,
            });
        }
        let want = t.channel.deadline();
        if self.timers.deadline(&Timer::Channel(tid)) != want {
            match want {
                Some(d) => {
                    self.timers.insert(Timer::Channel(tid), d);
                }
                None => {
                    self.timers.cancel(&Timer::Channel(tid));
                }
            }
        }
    }

    /// Opens a tunnel to `peer` (SCCRQ). `lbc`: carry LoadBalanceCapable.
    pub fn open_tunnel(&mut self, now: Instant, peer: SocketAddr, lbc: bool) -> Option<u16> {
        if self.tunnels.len() >= self.cfg.max_tunnels
            || self.pending_tunnels.len() >= self.cfg.max_pending_tunnels
        {
            return None;
        }
        let id = self.alloc_tunnel_id()?;
        let tb = self.rng.next_u64();
        let mut msg = ControlMessage::sccrq(id, Cow::Owned(self.cfg.host_name.clone()), 3)
            .with(Avp::mandatory(AvpValue::BearerCapabilities(3)))
            .with(Avp::mandatory(AvpValue::ReceiveWindowSize(
                self.cfg.receive_window,
            )))
            .with(Avp::optional(AvpValue::TieBreaker(tb)))
            .with(Avp::optional(AvpValue::FirmwareRevision(1)))
            .with(Avp::optional(AvpValue::VendorName(Cow::Borrowed(b"telcp"))));
        let mut challenge = None;
        if self.cfg.challenge {
            let mut c = [0u8; 16];
            self.rng.fill_bytes(&mut c);
            msg.push(Avp::mandatory(AvpValue::Challenge(Cow::Owned(c.to_vec()))));
            challenge = Some(c);
        }
        if lbc {
            msg.push(Avp::optional(AvpValue::LoadBalanceCapable {
                vendor: self.cfg.enterprise,
            }));
        }
        let t = Tunnel {
            local_id: id,
            peer_id: 0,
            peer,
            local: None,
            state: TunnelState::WaitCtlReply,
            channel: Channel::new(self.channel_config(), 0),
            sessions: IdMap::default(),
            our_challenge: challenge,
            tie_breaker: Some(tb),
            peer_load_balance_capable: false,
            peer_framing_capabilities: 0,
            peer_bearer_capabilities: None,
            requested_with_lbc: lbc,
            stop_result: None,
            last_rx: now,
        };
        self.tunnels.insert(id, t);
        self.pending_tunnels.insert(id);
        self.send_ctrl(now, id, msg);
        self.arm_hello(now, id);
        Some(id)
    }

    fn arm_hello(&mut self, now: Instant, tid: u16) {
        self.timers
            .insert(Timer::Hello(tid), now + self.cfg.hello_interval);
    }

    /// Stateless StopCCN answering an SCCRQ we do not take (no tunnel kept). The SCCRQ is
    /// unauthenticated, its source possibly spoofed: at most [`Config::refusals`] of these leave,
    /// the rest are counted in [`super::Stats::refusals_suppressed`].
    pub fn refuse_sccrq(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: Option<SocketAddr>,
        sccrq: &ControlMessage<'_>,
        result: ResultCode<'static>,
        redirect: Option<IpAddr>,
    ) {
        if !self.refusals.take(now) {
            self.stats.refusals_suppressed = self.stats.refusals_suppressed.saturating_add(1);
            return;
        }
        self.stats.refusals_sent = self.stats.refusals_sent.saturating_add(1);
        let peer_tid = sccrq.assigned_tunnel_id().unwrap_or(0);
        let mut m = ControlMessage::stopccn(peer_tid, 0, result);
        if let Some(addr) = redirect {
            m.push(Avp::optional(AvpValue::RedirectTarget {
                vendor: self.cfg.enterprise,
                addr,
            }));
        }
        m.header.ns = 0;
        m.header.nr = sccrq.header.ns.wrapping_add(1);
        let mut v = Vec::with_capacity(m.encoded_len());
        m.emit(&mut v);
        self.out.push_back(Transmit {
            dst: from,
            src: to,
            link_dst: None,
            payload: Bytes::from(v),
        });
    }

    /// Accepts an SCCRQ: new tunnel, SCCRP sent. `None` if the tunnel table is full.
    pub fn accept_tunnel(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        sccrq: ControlMessage<'static>,
    ) -> Result<u16, InputError> {
        let peer_tid = sccrq.assigned_tunnel_id().unwrap_or(0);
        if peer_tid == 0 {
            return Err(InputError::Unexpected("SCCRQ with Assigned Tunnel ID 0"));
        }
        let mut response = None;
        if let Some(ch) = sccrq.challenge() {
            match &self.cfg.secret {
                Some(s) => response = Some(challenge_response(MessageType::SCCRP, s, ch)),
                None => {
                    self.refuse_sccrq(
                        now,
                        from,
                        Some(to),
                        &sccrq,
                        ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED),
                        None,
                    );
                    return Err(InputError::NotAuthorized);
                }
            }
        }
        if self.tunnels.len() >= self.cfg.max_tunnels
            || self.pending_tunnels.len() >= self.cfg.max_pending_tunnels
        {
            self.refuse_sccrq(
                now,
                from,
                Some(to),
                &sccrq,
                ResultCode::with_error(
                    ResultCodeValue::STOPCCN_GENERAL_ERROR,
                    ErrorCode::INSUFFICIENT_RESOURCES,
                    Cow::Borrowed(&b""[..]),
                ),
                None,
            );
            return Err(InputError::Full("tunnels"));
        }
        let id = self
            .alloc_tunnel_id()
            .ok_or(InputError::Full("tunnel ids"))?;
        let mut channel = Channel::new(self.channel_config(), peer_tid);
        channel.set_peer_window(sccrq.receive_window_size().unwrap_or(4));
        let lbc = sccrq.load_balance_capable(self.cfg.enterprise);
        let caps = advertised_capabilities(&sccrq);
        let _ = channel.receive(now, sccrq);
        // Drop the ZLB the channel queued: the SCCRP acknowledges.
        while channel.poll_transmit().is_some() {}
        let mut msg =
            ControlMessage::sccrp(peer_tid, id, Cow::Owned(self.cfg.host_name.clone()), 3)
                .with(Avp::mandatory(AvpValue::BearerCapabilities(3)))
                .with(Avp::mandatory(AvpValue::ReceiveWindowSize(
                    self.cfg.receive_window,
                )))
                .with(Avp::optional(AvpValue::FirmwareRevision(1)))
                .with(Avp::optional(AvpValue::VendorName(Cow::Borrowed(b"telcp"))));
        if let Some(r) = response {
            msg.push(Avp::mandatory(AvpValue::ChallengeResponse(r)));
        }
        let mut challenge = None;
        if self.cfg.challenge {
            let mut c = [0u8; 16];
            self.rng.fill_bytes(&mut c);
            msg.push(Avp::mandatory(AvpValue::Challenge(Cow::Owned(c.to_vec()))));
            challenge = Some(c);
        }
        self.tunnels.insert(
            id,
            Tunnel {
                local_id: id,
                peer_id: peer_tid,
                peer: from,
                local: Some(to),
                state: TunnelState::WaitCtlConn,
                channel,
                sessions: IdMap::default(),
                our_challenge: challenge,
                tie_breaker: None,
                peer_load_balance_capable: lbc,
                peer_framing_capabilities: caps.0,
                peer_bearer_capabilities: caps.1,
                requested_with_lbc: false,
                stop_result: None,
                last_rx: now,
            },
        );
        self.by_peer.insert((from, peer_tid), id);
        self.pending_tunnels.insert(id);
        self.send_ctrl(now, id, msg);
        self.arm_hello(now, id);
        Ok(id)
    }

    /// Sends StopCCN on `tid` and holds the tunnel for the hold period. Its sessions go down.
    pub fn close_tunnel(&mut self, now: Instant, tid: u16, result: ResultCode<'static>) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        if t.state == TunnelState::Closing {
            return;
        }
        let was_setup = t.state != TunnelState::Established;
        t.state = TunnelState::Closing;
        t.stop_result = Some(result.clone());
        self.pending_tunnels.remove(&tid);
        let peer = t.peer;
        let peer_id = t.peer_id;
        let sessions: Vec<Session> = t.sessions.drain().map(|(_, s)| s).collect();
        self.session_count = self.session_count.saturating_sub(sessions.len());
        let m = ControlMessage::stopccn(peer_id, tid, result.clone());
        self.send_ctrl(now, tid, m);
        self.timers.cancel(&Timer::Hello(tid));
        self.timers.cancel(&Timer::Idle(tid));
        self.timers
            .insert(Timer::Hold(tid), now + self.cfg.hold_period);
        self.event(Event::TunnelDown {
            tunnel: tid,
            peer,
            result: Some(result.clone()),
        });
        self.ups.push_back(Up::TunnelClosed {
            tunnel: tid,
            was_setup,
            result: Some(result),
            redirect: None,
            sessions,
        });
    }

    fn remove_tunnel(&mut self, tid: u16) -> Option<Tunnel> {
        let mut t = self.tunnels.remove(&tid)?;
        self.pending_tunnels.remove(&tid);
        self.by_peer.remove(&(t.peer, t.peer_id));
        self.timers.cancel(&Timer::Channel(tid));
        self.timers.cancel(&Timer::Hello(tid));
        self.timers.cancel(&Timer::Hold(tid));
        self.timers.cancel(&Timer::Idle(tid));
        for sid in t.sessions.keys() {
            self.timers.cancel(&Timer::Session(tid, *sid));
        }
        self.session_count = self.session_count.saturating_sub(t.sessions.len());
        t.sessions.shrink_to_fit();
        Some(t)
    }

    /// A tunnel died (retransmissions exhausted, or abandoned by the role).
    pub fn tunnel_dead(&mut self, tid: u16) {
        let Some(mut t) = self.remove_tunnel(tid) else {
            return;
        };
        if t.state == TunnelState::Closing {
            return;
        }
        let sessions: Vec<Session> = t.sessions.drain().map(|(_, s)| s).collect();
        self.event(Event::TunnelDown {
            tunnel: tid,
            peer: t.peer,
            result: None,
        });
        self.ups.push_back(Up::TunnelClosed {
            tunnel: tid,
            was_setup: t.state != TunnelState::Established,
            result: None,
            redirect: None,
            sessions,
        });
    }

    /// Adds a session to a tunnel.
    pub fn add_session(&mut self, tid: u16, s: Session, bounded: bool) -> bool {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        if t.sessions.len() >= usize::from(u16::MAX) - 1
            || (bounded
                && (t.sessions.len() >= self.cfg.max_sessions_per_tunnel
                    || self.session_count >= self.cfg.max_sessions))
        {
            return false;
        }
        t.sessions.insert(s.local_id, s);
        self.session_count += 1;
        self.timers.cancel(&Timer::Idle(tid));
        true
    }

    /// Removes a session (the tunnel's idle timer starts when it was the last one).
    pub fn remove_session(&mut self, now: Instant, tid: u16, sid: u16) -> Option<Session> {
        let s = self.tunnels.get_mut(&tid)?.sessions.remove(&sid)?;
        self.session_count = self.session_count.saturating_sub(1);
        self.timers.cancel(&Timer::Session(tid, sid));
        self.arm_idle(now, tid);
        Some(s)
    }

    /// Starts the idle timer of an established tunnel without sessions (when configured).
    fn arm_idle(&mut self, now: Instant, tid: u16) {
        let Some(d) = self.idle_timeout else {
            return;
        };
        if self
            .tunnels
            .get(&tid)
            .is_some_and(|t| t.state == TunnelState::Established && t.sessions.is_empty())
        {
            self.timers.insert(Timer::Idle(tid), now + d);
        }
    }

    pub fn session_mut(&mut self, tid: u16, sid: u16) -> Option<&mut Session> {
        self.tunnels.get_mut(&tid)?.sessions.get_mut(&sid)
    }

    /// Sends CDN for a session and removes it.
    pub fn disconnect(&mut self, now: Instant, tid: u16, sid: u16, result: ResultCode<'static>) {
        let Some(s) = self.remove_session(now, tid, sid) else {
            return;
        };
        let m = ControlMessage::cdn(0, s.peer_id, sid, result);
        self.send_ctrl(now, tid, m);
    }

    /// Clears the session a session message belongs to with CDN `result` (RFC 2661 4.1). The CDN
    /// goes to the peer's Session ID, learnt from this message when it assigns it (ICRP, OCRP). A
    /// call request (ICRQ, OCRQ) is refused with a CDN to the Assigned Session ID it carries; a
    /// message that names no session we can answer clears the tunnel (RFC 2661 7.1).
    fn refuse_session_message(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
        result: ResultCode<'static>,
    ) {
        let sid = m.header.session_id;
        let assigned = m.assigned_session_id().filter(|&id| id != 0);
        if let Some(s) = self.session_mut(tid, sid) {
            if s.peer_id == 0 {
                if let Some(p) = assigned {
                    s.peer_id = p;
                }
            }
            if let Some(session) = self.remove_session(now, tid, sid) {
                let cdn = ControlMessage::cdn(0, session.peer_id, sid, result.clone());
                self.send_ctrl(now, tid, cdn);
                self.ups.push_back(Up::SessionRefused {
                    tunnel: tid,
                    session,
                    result,
                });
            }
        } else if sid == 0 {
            match assigned {
                Some(peer_sid) => {
                    self.send_ctrl(now, tid, ControlMessage::cdn(0, peer_sid, 0, result));
                }
                None => self.close_tunnel(now, tid, result),
            }
        }
        // A message for a session we no longer have: acknowledged, nothing to clear.
    }

    /// Sends a PPP frame on an established session.
    pub fn send_data(&mut self, tid: u16, sid: u16, frame: &[u8]) -> bool {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        let peer_tid = t.peer_id;
        let (peer, local) = (t.peer, t.local);
        let Some(s) = t.sessions.get_mut(&sid) else {
            return false;
        };
        if s.state != SessionState::Established {
            return false;
        }
        let d = s.data_message(peer_tid, frame);
        let mut v = Vec::with_capacity(d.encoded_len());
        d.emit(&mut v);
        self.out.push_back(Transmit {
            dst: peer,
            src: local,
            link_dst: None,
            payload: Bytes::from(v),
        });
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// After the role processed a datagram: acknowledges with a ZLB whatever no answer carried.
    pub fn finish(&mut self, now: Instant) {
        let dirty = std::mem::take(&mut self.dirty);
        for tid in dirty {
            if let Some(t) = self.tunnels.get_mut(&tid) {
                t.channel.flush_ack();
            }
            self.flush(now, tid);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((key, _)) = self.timers.pop_expired(now) {
            match key {
                Timer::Channel(tid) => {
                    let dead = match self.tunnels.get_mut(&tid) {
                        Some(t) => t.channel.handle_timeout(now).is_err(),
                        None => continue,
                    };
                    if dead {
                        self.tunnel_dead(tid);
                    } else {
                        self.flush(now, tid);
                    }
                }
                Timer::Hello(tid) => {
                    let Some((state, peer_id, last_rx)) = self
                        .tunnels
                        .get(&tid)
                        .map(|t| (t.state, t.peer_id, t.last_rx))
                    else {
                        continue;
                    };
                    if state == TunnelState::Closing {
                        continue;
                    }
                    let due = last_rx + self.cfg.hello_interval;
                    if due > now {
                        // Heard from the peer since the timer was armed.
                        self.timers.insert(Timer::Hello(tid), due);
                        continue;
                    }
                    if state == TunnelState::Established {
                        self.send_ctrl(now, tid, ControlMessage::hello(peer_id));
                    }
                    self.arm_hello(now, tid);
                }
                Timer::Hold(tid) => {
                    // The sender of a StopCCN keeps the tunnel until the StopCCN is acknowledged
                    // (or its retransmissions run out and the channel is declared dead).
                    let unacked = self
                        .tunnels
                        .get(&tid)
                        .is_some_and(|t| t.channel.in_flight() > 0);
                    if unacked {
                        self.timers
                            .insert(Timer::Hold(tid), now + self.cfg.retransmit_cap);
                    } else {
                        self.remove_tunnel(tid);
                    }
                }
                Timer::Idle(tid) => {
                    let Some(t) = self.tunnels.get(&tid) else {
                        continue;
                    };
                    if t.state != TunnelState::Established || !t.sessions.is_empty() {
                        continue;
                    }
                    if !t.channel.is_idle() {
                        // A CDN (or other message) is still unacknowledged: close only once the
                        // channel is quiet, so the StopCCN does not queue behind it; a dead
                        // channel ends the tunnel anyway.
                        if let Some(d) = self.idle_timeout {
                            self.timers.insert(Timer::Idle(tid), now + d);
                        }
                        continue;
                    }
                    self.close_tunnel(
                        now,
                        tid,
                        ResultCode::new(ResultCodeValue::STOPCCN_GENERAL_REQUEST),
                    );
                }
                Timer::Session(tid, sid) => self.ups.push_back(Up::SessionTimer(tid, sid)),
            }
        }
    }

    /// Feeds one datagram, queueing the data frames it carries on `queue` (at most `max`; the
    /// frames beyond are dropped and counted in `dropped`), as both the LAC and the LNS do.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_datagram_queued(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        queue: &mut std::collections::VecDeque<super::Data>,
        max: usize,
        dropped: &mut u64,
    ) -> Result<(), InputError> {
        self.handle_datagram(now, from, to, data, &mut |session, call, frame| {
            if queue.len() < max {
                queue.push_back(super::Data {
                    session,
                    call: call.map(super::CallId),
                    frame: bytes::Bytes::copy_from_slice(frame),
                });
            } else {
                *dropped = dropped.saturating_add(1);
            }
        })
    }

    /// Parses and dispatches one datagram. Data frames are returned to the caller.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        data_out: &mut DataSink<'_>,
    ) -> Result<(), InputError> {
        let msg = Message::parse_with(data, &self.parse_opts())?;
        let c = match msg {
            Message::Data(d) => {
                let tid = d.header.tunnel_id;
                let sid = d.header.session_id;
                let t = self
                    .tunnels
                    .get_mut(&tid)
                    .ok_or(InputError::UnknownTunnel(tid))?;
                if t.peer != from {
                    return Err(InputError::UnknownTunnel(tid));
                }
                // RFC 2661 6.5: any message received on the tunnel, data included, defers HELLO.
                t.last_rx = now;
                let s = t
                    .sessions
                    .get_mut(&sid)
                    .ok_or(InputError::UnknownSession(sid))?;
                if s.state != SessionState::Established {
                    return Err(InputError::Unexpected("data before session established"));
                }
                if s.accept_data(d.header.sequence) {
                    data_out(
                        SessionRef {
                            tunnel: tid,
                            session: sid,
                        },
                        s.call,
                        &d.payload,
                    );
                }
                return Ok(());
            }
            Message::Control(c) => c.into_owned(),
        };
        let tid = c.header.tunnel_id;
        if tid == 0 {
            if c.message_type() != Some(MessageType::SCCRQ) {
                return Err(InputError::UnknownTunnel(0));
            }
            let peer_tid = c.assigned_tunnel_id().unwrap_or(0);
            if let Some(&existing) = self.by_peer.get(&(from, peer_tid)) {
                // Retransmitted SCCRQ: the channel re-acknowledges.
                self.deliver(now, existing, c);
                return Ok(());
            }
            // An SCCRQ we cannot take is answered by StopCCN without keeping a tunnel (RFC 2661
            // 4.1: a tunnel message with an unrecognised M=1 AVP clears the tunnel).
            if let Some((rc, err)) = refusal(&c) {
                self.refuse_sccrq(now, from, Some(to), &c, rc, None);
                return Err(err);
            }
            // RFC 2661 4.4.3: an SCCRQ from a peer to which our own SCCRQ is still unanswered.
            // Every SCCRQ of ours carries a Tie Breaker. The lower value wins and the side that
            // sent the higher one silently drops its own tunnel; equal values: both sides drop
            // theirs; a request without a Tie Breaker loses to one with it.
            let ours = self
                .tunnels
                .values()
                .find(|t| t.peer.ip() == from.ip() && t.state == TunnelState::WaitCtlReply)
                .and_then(|t| t.tie_breaker.map(|tb| (t.local_id, tb)));
            if let Some((our_tid, tb)) = ours {
                let theirs = c.tie_breaker();
                if theirs.is_none_or(|theirs| tb < theirs) {
                    // We win: the peer drops its request; ours stays outstanding.
                    return Err(InputError::Unexpected("SCCRQ lost the tie breaker"));
                }
                let tie = theirs == Some(tb);
                if !tie {
                    // We lose: the role first takes the peer's SCCRQ, then re-requests our calls
                    // on that tunnel.
                    self.ups.push_back(Up::Sccrq { from, to, msg: c });
                }
                // Drop ours silently (on a tie the peer drops its own too, and our calls start
                // again on a fresh tunnel with a fresh Tie Breaker).
                if let Some(mut t) = self.remove_tunnel(our_tid) {
                    let sessions = t.sessions.drain().map(|(_, s)| s).collect();
                    self.ups.push_back(Up::TunnelClosed {
                        tunnel: our_tid,
                        was_setup: true,
                        result: None,
                        redirect: None,
                        sessions,
                    });
                }
                if tie {
                    return Err(InputError::Unexpected("SCCRQ tie breaker equal to ours"));
                }
                return Ok(());
            }
            self.ups.push_back(Up::Sccrq { from, to, msg: c });
            return Ok(());
        }
        let t = self
            .tunnels
            .get(&tid)
            .ok_or(InputError::UnknownTunnel(tid))?;
        if t.peer.ip() != from.ip() {
            return Err(InputError::UnknownTunnel(tid));
        }
        self.deliver(now, tid, c);
        Ok(())
    }

    fn deliver(&mut self, now: Instant, tid: u16, c: ControlMessage<'static>) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        let delivered = t.channel.receive(now, c);
        if !self.dirty.contains(&tid) {
            self.dirty.push(tid);
        }
        // RFC 2661 6.5: HELLO is due only after `hello_interval` with nothing received on the
        // tunnel; a ZLB or a duplicate is a message received too.
        t.last_rx = now;
        for m in delivered {
            self.on_message(now, tid, m);
        }
        self.flush(now, tid);
    }

    fn on_message(&mut self, now: Instant, tid: u16, m: ControlMessage<'static>) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        let Some(mt) = m.message_type() else {
            return;
        };
        if t.state == TunnelState::Closing {
            // Held only to acknowledge.
            return;
        }
        if mt == MessageType::SCCRP && t.state == TunnelState::WaitCtlReply && t.peer_id == 0 {
            // RFC 2661 4.4.3: from now on every header to the peer carries its Assigned Tunnel ID,
            // a StopCCN refusing this SCCRP included.
            if let Some(id) = m.assigned_tunnel_id().filter(|&id| id != 0) {
                t.peer_id = id;
                t.channel.set_peer_tunnel_id(id);
            }
        }
        if mt.name().is_none() {
            // RFC 2661 4.4.1: an unknown message type with M=1 in its Message Type AVP clears the
            // tunnel; with M=0 the message is ignored (the channel acknowledged it).
            if m.avps.first().is_some_and(|a| a.mandatory) {
                let rc = ResultCode::with_error(
                    ResultCodeValue(2),
                    ErrorCode::UNKNOWN_MANDATORY_AVP,
                    Cow::Owned(format!("unknown message type {}", mt.0).into_bytes()),
                );
                self.close_tunnel(now, tid, rc);
            }
            return;
        }
        if let Some((rc, _)) = refusal(&m) {
            if mt.is_tunnel_message() {
                self.close_tunnel(now, tid, rc);
            } else {
                self.refuse_session_message(now, tid, &m, rc);
            }
            return;
        }
        let secret = self.cfg.secret.clone();
        match mt {
            MessageType::SCCRP => {
                if t.state != TunnelState::WaitCtlReply {
                    return;
                }
                if let Some(ours) = t.our_challenge {
                    let ok = match (m.challenge_response(), &secret) {
                        (Some(r), Some(s)) => {
                            ct_eq(&r, &challenge_response(MessageType::SCCRP, s, &ours))
                        }
                        _ => false,
                    };
                    if !ok {
                        t.peer_id = m.assigned_tunnel_id().unwrap_or(0);
                        t.channel.set_peer_tunnel_id(t.peer_id);
                        self.close_tunnel(
                            now,
                            tid,
                            ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED),
                        );
                        return;
                    }
                }
                let peer_id = m.assigned_tunnel_id().unwrap_or(0);
                t.peer_id = peer_id;
                t.channel.set_peer_tunnel_id(peer_id);
                (t.peer_framing_capabilities, t.peer_bearer_capabilities) =
                    advertised_capabilities(&m);
                t.channel
                    .set_peer_window(m.receive_window_size().unwrap_or(4));
                let peer = t.peer;
                self.by_peer.insert((peer, peer_id), tid);
                let mut scccn = ControlMessage::scccn(peer_id);
                if let Some(ch) = m.challenge() {
                    match &secret {
                        Some(s) => scccn.push(Avp::mandatory(AvpValue::ChallengeResponse(
                            challenge_response(MessageType::SCCCN, s, ch),
                        ))),
                        None => {
                            self.close_tunnel(
                                now,
                                tid,
                                ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED),
                            );
                            return;
                        }
                    };
                }
                if let Some(t) = self.tunnels.get_mut(&tid) {
                    t.state = TunnelState::Established;
                }
                self.pending_tunnels.remove(&tid);
                self.send_ctrl(now, tid, scccn);
                self.arm_idle(now, tid);
                self.event(Event::TunnelUp { tunnel: tid, peer });
                self.ups.push_back(Up::TunnelUp(tid));
            }
            MessageType::SCCCN => {
                if t.state != TunnelState::WaitCtlConn {
                    return;
                }
                if let Some(ours) = t.our_challenge {
                    let ok = match (m.challenge_response(), &secret) {
                        (Some(r), Some(s)) => {
                            ct_eq(&r, &challenge_response(MessageType::SCCCN, s, &ours))
                        }
                        _ => false,
                    };
                    if !ok {
                        self.close_tunnel(
                            now,
                            tid,
                            ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED),
                        );
                        return;
                    }
                }
                t.state = TunnelState::Established;
                let peer = t.peer;
                self.pending_tunnels.remove(&tid);
                self.arm_idle(now, tid);
                self.event(Event::TunnelUp { tunnel: tid, peer });
                self.ups.push_back(Up::TunnelUp(tid));
            }
            MessageType::STOPCCN => {
                let was_setup = t.state != TunnelState::Established;
                let peer = t.peer;
                let result = m.result_code().cloned().map(ResultCode::into_owned);
                let redirect = m.redirect_target(self.cfg.enterprise);
                t.state = TunnelState::Closing;
                t.stop_result = result.clone();
                self.pending_tunnels.remove(&tid);
                if t.peer_id == 0 {
                    // A refusal of our SCCRQ: learn the id to acknowledge it.
                    t.peer_id = m.assigned_tunnel_id().unwrap_or(0);
                    t.channel.set_peer_tunnel_id(t.peer_id);
                }
                let sessions: Vec<Session> = t.sessions.drain().map(|(_, s)| s).collect();
                self.session_count = self.session_count.saturating_sub(sessions.len());
                self.timers.cancel(&Timer::Hello(tid));
                self.timers.cancel(&Timer::Idle(tid));
                self.timers
                    .insert(Timer::Hold(tid), now + self.cfg.hold_period);
                self.event(Event::TunnelDown {
                    tunnel: tid,
                    peer,
                    result: result.clone(),
                });
                self.ups.push_back(Up::TunnelClosed {
                    tunnel: tid,
                    was_setup,
                    result,
                    redirect,
                    sessions,
                });
            }
            MessageType::HELLO | MessageType::SCCRQ => {}
            _ => {
                if t.state != TunnelState::Established {
                    return;
                }
                self.ups.push_back(Up::SessionMsg {
                    tunnel: tid,
                    msg: m,
                });
            }
        }
    }
}
