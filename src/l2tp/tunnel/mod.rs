//! The tunnel state machine (RFC 2661 section 7.2) and the machinery both endpoints share:
//! tunnels by id, their control channels, their sessions, one [`TimerQueue`] for every timer.
//!
//! Tunnel establishment: SCCRQ / SCCRP / SCCCN, with the Tie Breaker (RFC 2661 4.4.3: when both
//! sides open a tunnel to each other at once the request with the lower Tie Breaker survives and
//! the other side silently drops its own; on equal values both drop theirs; a request without a
//! Tie Breaker loses to one with it),
//! optional challenge/response (RFC 2661 5.1.1: `MD5(message type, secret, challenge)`), hidden
//! AVPs when configured (both with the tunnel's own secret when it has one, a LAC plan
//! endpoint's Tunnel-Password, else `Config::secret`: `secret` module), HELLO after `hello_interval` without any message (control, ZLB or data)
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

mod establish;
mod info;
mod input;
mod peers;
pub mod recovery;
mod redirects;
mod refusal;
mod secret;
mod snapshot;
mod timers;

pub use info::{SessionInfo, TunnelInfo};
pub use snapshot::DATA_NS_SKIP;

pub(crate) use refusal::refusal;
pub(crate) use secret::{Redacted, TunnelSecret};

use super::channel::{Channel, ChannelConfig};
use super::session::{Session, SessionState, Sessions};
use super::wire::avp::{AvpValue, PppDisconnectCause};
use super::wire::{Avp, AvpType, ControlMessage, ParseOptions, ResultCode, ResultCodeValue};
use super::{CallId, CommandError, Config, ConfigError, Data, Event, SessionHandoff, SessionRef};
use crate::io::{Outbox, Overflow, TokenBucket};
use crate::{Rng, TimerQueue, Transmit};
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
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
#[non_exhaustive]
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
    /// The peer's Tunnel ID, once its Assigned Tunnel ID AVP arrived (RFC 2661 4.4.3: the id is
    /// non-zero).
    pub peer_id: Option<NonZeroU16>,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Our address the peer talks to.
    pub local: Option<SocketAddr>,
    /// State.
    pub state: TunnelState,
    /// The control channel.
    pub channel: Channel,
    /// Sessions by our Session ID.
    pub sessions: Sessions,
    /// Challenge we sent, to check the peer's response (boxed: set-up only, and rare).
    pub our_challenge: Option<Box<[u8; 16]>>,
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
    /// StopCCN result received or sent (boxed: closing tunnels only).
    pub stop_result: Option<Box<ResultCode<'static>>>,
    /// When the last message (control, ZLB or data) came from the peer on this tunnel: HELLO is
    /// due `hello_interval` after it (RFC 2661 5.5, 6.5).
    pub last_rx: Instant,
    /// The Failover Capability the peer advertised in its SCCRQ or SCCRP (RFC 4951), if any.
    pub peer_failover: Option<super::wire::avp::FailoverCapability>,
    /// Where the tunnel stands in an RFC 4951 recovery, if one concerns it (boxed: rare).
    pub recovery: Option<Box<recovery::Recovery>>,
    /// The tunnel's own secret (a LAC plan endpoint's Tunnel-Password); `None`: the
    /// configuration's ([`Core::secret_of`]).
    pub(crate) secret: Option<TunnelSecret>,
}

impl Tunnel {
    /// The Tunnel ID for headers to the peer: its assigned id, or 0 while it has none (RFC 2661
    /// 3.1, 4.4.3).
    pub fn peer_header_id(&self) -> u16 {
        self.peer_id.map_or(0, NonZeroU16::get)
    }

    /// The peer's Tunnel ID is `id` (0: still unknown), for this tunnel and its channel.
    fn learn_peer_id(&mut self, id: u16) {
        self.peer_id = NonZeroU16::new(id);
        self.channel.set_peer_tunnel_id(id);
    }
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
#[non_exhaustive]
pub enum Timer {
    /// A tunnel's own timer, one per tunnel: its control channel's retransmission and
    /// deferred acknowledgement (RFC 2661 5.8) and HELLO (5.5, 6.5), whichever is due first. Armed
    /// lazily ([`Channel::sync_timer`]): it may fire before either is due, then does nothing but
    /// re-arm.
    Tunnel(u16),
    /// End of the hold period of a closed tunnel.
    Hold(u16),
    /// A tunnel without sessions is closed when this fires (LAC's `idle_tunnel_timeout`).
    Idle(u16),
    /// A per-session timer (redirect hold on the contact LNS).
    Session(u16, u16),
    /// End of the peer's Recovery Time (RFC 4951) for a tunnel whose peer stopped answering.
    Recovery(u16),
}

/// What the tunnel layer hands up to the role (LAC or LNS). The rare, large items are boxed:
/// the queue's entries are the size of a session message, the one every session-level control
/// message (an ICRQ of a redirect decision, the CDN after it) is moved in and out as
/// (memory per tunnel).
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum Up {
    /// A new SCCRQ (not a retransmission): the role accepts or refuses it.
    Sccrq(Box<NewSccrq>),
    TunnelUp(u16),
    /// The tunnel failed or was stopped; its sessions are listed (already removed).
    TunnelClosed(Box<TunnelClosed>),
    /// A session-level control message, in order, for the session its header names.
    SessionMsg {
        session: SessionRef,
        msg: ControlMessage<'static>,
    },
    SessionTimer(u16, u16),
    /// A session was cleared with CDN `result` because of a message it could not take (already
    /// removed).
    SessionRefused(Box<SessionRefused>),
}

/// [`Up::Sccrq`]: an SCCRQ from `from` to `to`.
#[derive(Debug)]
pub(crate) struct NewSccrq {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub msg: ControlMessage<'static>,
}

/// [`Up::TunnelClosed`].
#[derive(Debug)]
pub(crate) struct TunnelClosed {
    pub tunnel: u16,
    pub was_setup: bool,
    pub result: Option<ResultCode<'static>>,
    pub redirect: Option<IpAddr>,
    pub sessions: Vec<Session>,
}

/// [`Up::SessionRefused`].
#[derive(Debug)]
pub(crate) struct SessionRefused {
    pub tunnel: u16,
    pub session: Session,
    pub result: ResultCode<'static>,
}

/// The shared tunnel/session engine.
pub(crate) struct Core {
    pub cfg: Config,
    pub rng: Rng,
    pub timers: TimerQueue<Timer>,
    /// Boxed: the table's empty slots cost a pointer each, not a tunnel (memory per tunnel and session).
    pub tunnels: IdMap<Box<Tunnel>>,
    /// Tunnels by the peer's address and Tunnel ID (our ids only: `peers` module).
    by_peer: peers::PeerIndex,
    pub out: VecDeque<Transmit>,
    pub events: Outbox<Event>,
    pub ups: VecDeque<Up>,
    pub session_count: usize,
    /// Received PPP frames waiting for `poll_data`, bounded by `max_data_queue`.
    pub data: Outbox<Data>,
    /// Tunnels that received messages since the last [`Core::finish`].
    dirty: Vec<u16>,
    /// Tunnels in set-up (SCCRQ or SCCRP sent), bounded by `max_pending_tunnels`.
    pub pending_tunnels: std::collections::HashSet<u16>,
    /// Close an established tunnel that has had no session for this long (LAC only).
    pub idle_timeout: Option<std::time::Duration>,
    /// The bucket of [`Config::refusals`].
    refusals: TokenBucket,
    pub stats: super::Stats,
    /// AVPs the next SCCRQ or SCCRP built carries after the common ones (RFC 4951's Tunnel
    /// Recovery and Suggested Control Sequence).
    sccrx_extra: Vec<Avp<'static>>,
    /// The role is an LNS (the data-plane handoff's `lns_mode`).
    pub lns: bool,
    /// The last recovery SCCRP that came for no tunnel of ours (LNS only; the role takes it
    /// after each datagram: [`recovery::StraySccrp`]).
    pub stray_sccrp: Option<recovery::StraySccrp>,
    /// The PPP Disconnect Cause Code (RFC 3145) of the CDN being processed, for the
    /// [`Event::SessionDown`] it leads to (cleared by [`Core::finish`]).
    pub cdn_cause: Option<PppDisconnectCause<'static>>,
    /// The channel parameters the tunnels share ([`Core::shared_channel_config`]).
    channel_cfg: std::sync::Arc<ChannelConfig>,
    /// The messages a channel delivers, a buffer reused across datagrams (`deliver`).
    delivered: Vec<ControlMessage<'static>>,
    /// Where the channels write the messages sent at once and the ZLBs
    /// ([`Channel::send_in`], [`Channel::flush_ack_in`]): no allocation per datagram.
    arena: bytes::BytesMut,
    /// The AVP buffer of a message the role is done with ([`Core::recycle`]), which the next
    /// control message received is parsed into (`handle_datagram`): no allocation per message.
    spare_avps: Vec<Avp<'static>>,
    /// Redirect records held on every tunnel ([`Sessions::hold`]; counted in `session_count`
    /// too, as the sessions they were before).
    pub redirects_held: usize,
    /// The next redirect record's number ([`Sessions::hold`]).
    redirect_seq: u32,
    /// The redirect records' expiries, in the order they were made (one hold for all, so in
    /// deadline order): deadline, tunnel, our Session ID, record number. An entry whose record
    /// was freed before is skipped when it comes due, and dropped when the queue outgrows the
    /// records (`redirects` module).
    redirect_expiry: VecDeque<(Instant, u16, u16, u32)>,
}

/// The largest AVP buffer kept for reuse ([`Core::recycle`]): what a parse reserves at most.
const SPARE_AVPS_MAX: usize = 64;

const HIDE_SET: [u16; 3] = [14, 21, 22];

/// The longest ICRP [`Core::send_icrp`] writes: header, Message Type, Assigned Session ID and an
/// IPv6 `RedirectTarget`.
const ICRP_MAX_LEN: usize = 12 + 8 + 8 + 6 + 16;

/// A table of our ids (tunnels, a tunnel's sessions).
trait Ids {
    fn contains_key(&self, id: &u16) -> bool;
}

impl<V> Ids for IdMap<V> {
    fn contains_key(&self, id: &u16) -> bool {
        HashMap::contains_key(self, id)
    }
}

impl Ids for Sessions {
    /// A session's id or a redirect record's.
    fn contains_key(&self, id: &u16) -> bool {
        self.id_taken(*id)
    }
}

/// A random non-zero id not in `map` (RFC 2661 3.1: Tunnel and Session IDs are non-zero; chosen
/// at random so they are hard to guess), or the first free one after 64 draws.
fn free_id(rng: &mut Rng, map: &impl Ids) -> Option<u16> {
    for _ in 0..64 {
        let id = rng.nonzero_u16();
        if !map.contains_key(&id) {
            return Some(id);
        }
    }
    (1..=u16::MAX).find(|id| !map.contains_key(id))
}

impl Core {
    pub fn new(cfg: Config, now: Instant) -> Result<Self, ConfigError> {
        let rng = Rng::from_config(cfg.seed)?;
        Ok(Core {
            refusals: TokenBucket::new(cfg.refusals, now),
            stats: super::Stats::default(),
            events: Outbox::new(cfg.max_events, Overflow::DropNewest),
            data: Outbox::new(cfg.max_data_queue, Overflow::DropNewest),
            cfg,
            rng,
            timers: TimerQueue::new(),
            tunnels: IdMap::default(),
            by_peer: Default::default(),
            out: VecDeque::new(),
            ups: VecDeque::new(),
            session_count: 0,
            dirty: Vec::new(),
            pending_tunnels: Default::default(),
            idle_timeout: None,
            sccrx_extra: Vec::new(),
            lns: false,
            stray_sccrp: None,
            cdn_cause: None,
            channel_cfg: Default::default(),
            delivered: Vec::new(),
            arena: bytes::BytesMut::new(),
            spare_avps: Vec::new(),
            redirects_held: 0,
            redirect_seq: 0,
            redirect_expiry: VecDeque::new(),
        })
        .map(|mut core| {
            core.restore(now);
            core
        })
    }

    pub fn event(&mut self, e: Event) {
        self.events.push(e);
    }

    /// Takes back the AVP buffer of a received message the role is done with, for the next
    /// control message received to be parsed into (`handle_datagram`); the larger one is kept,
    /// up to [`SPARE_AVPS_MAX`] AVPs.
    pub fn recycle(&mut self, m: ControlMessage<'static>) {
        let mut avps = m.avps;
        if avps.capacity() > self.spare_avps.capacity() && avps.capacity() <= SPARE_AVPS_MAX {
            avps.clear();
            self.spare_avps = avps;
        }
    }

    /// The channel parameters as one value all tunnels share (rebuilt if the configuration
    /// changed since).
    fn shared_channel_config(&mut self) -> std::sync::Arc<ChannelConfig> {
        let now = self.channel_config();
        if *self.channel_cfg != now {
            self.channel_cfg = std::sync::Arc::new(now);
        }
        self.channel_cfg.clone()
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
    /// once it sent ICCN) while its ICCN is still in retransmission (a fault-injection finding).
    pub fn setup_wait(&self) -> std::time::Duration {
        self.cfg
            .session_setup_timeout
            .max(self.channel_config().give_up_after())
    }

    /// How long an RFC 4951 recovery tunnel is kept after the recovery to acknowledge the
    /// recovering peer's SCCCN retransmissions (RFC 2661 5.7): `hold_period`, but never less than
    /// the time the peer's control channel may still be retransmitting
    /// ([`ChannelConfig::give_up_after`]; the default 31 s is that of the default channel). A
    /// shorter hold leaves the recovering LNS's SCCCN unanswered: RFC 4951 failover
    /// seed 75739, `max_retries` 10: the LAC stopped acknowledging at 31 s and the LNS gave the
    /// recovered tunnel up.
    pub fn hold_wait(&self) -> std::time::Duration {
        self.cfg
            .hold_period
            .max(self.channel_config().give_up_after())
    }

    /// How long a control channel may go unacknowledged while retransmitting before a LAC
    /// takes its LNS for silent at a call's set-up timeout (`Lac` set-up timer): half of
    /// `session_setup_timeout`, but never less than the channel's retransmission span (RFC
    /// 2661 5.8: a tunnel is cleaned up when its retransmissions are exhausted, not before).
    /// Shorter, a LAC gave up a tunnel whose LNS answered every retransmission (its ZLBs
    /// lost) while a backup resumed it (crash during set-up seed 96060: 23 s of a
    /// 71 s span).
    pub fn silent_after(&self) -> std::time::Duration {
        (self.cfg.session_setup_timeout / 2).max(self.channel_config().give_up_after())
    }

    /// How a datagram for tunnel `tid` (0: none yet) is parsed: hidden AVPs with that tunnel's
    /// secret ([`Core::secret_of`]).
    pub fn parse_opts(&self, tid: u16) -> ParseOptions<'_> {
        ParseOptions {
            enterprise: self.cfg.enterprise,
            secret: self.secret_of(tid),
        }
    }

    /// A free Session ID on `tunnel`; `bounded`: refuse when the session limits are reached
    /// (redirect records are bounded separately by the LNS).
    pub fn alloc_session_id(&mut self, tunnel: u16, bounded: bool) -> Option<u16> {
        let t = self.tunnels.get(&tunnel)?;
        if bounded
            && (t.sessions.len() + t.sessions.held_len() >= self.cfg.max_sessions_per_tunnel
                || self.session_count >= self.cfg.max_sessions)
        {
            return None;
        }
        free_id(&mut self.rng, &t.sessions)
    }

    fn alloc_tunnel_id(&mut self) -> Option<u16> {
        free_id(&mut self.rng, &self.tunnels)
    }

    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    /// Hides what the configuration asks, and anything already marked hidden, adding a Random
    /// Vector and padding (RFC 2661 4.3), with tunnel `tid`'s secret ([`Core::secret_of`]).
    fn prepare(&mut self, tid: u16, mut msg: ControlMessage<'static>) -> ControlMessage<'static> {
        let Some(secret) = self.secret_of(tid).map(<[u8]>::to_vec) else {
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
        let msg = self.prepare(tid, msg);
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        let ok = t.channel.send_in(now, msg, &mut self.arena).is_ok();
        self.flush(now, tid);
        ok
    }

    /// Sends on tunnel `tid` the message that opens the set-up of our session `sid` (LAC: ICRQ,
    /// RFC 2661 7.4.1; LNS: ICRP, 7.4.2, or OCRQ, 7.5.2) and flushes, as [`Core::send_ctrl`]
    /// would, with the session's set-up timer ([`Core::setup_wait`]) running from the message's
    /// first transmission: armed now when it leaves at once (or cannot be queued: the call then
    /// times out as before); not armed while it waits in the channel's send queue for the window
    /// (RFC 2661 5.8, Appendix A: a window shrunk by losses, calls opened in a burst), and
    /// armed when it leaves ([`Channel::send_setup_in`], `flush_with`). While it waits, the
    /// channel bounds the wait: every message ahead of it is acknowledged, or retransmitted
    /// until the channel gives up ([`ChannelConfig::give_up_after`]) and the tunnel goes down
    /// with the session.
    pub fn send_setup(&mut self, now: Instant, tid: u16, sid: u16, msg: ControlMessage<'static>) {
        let msg = self.prepare(tid, msg);
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        match t.channel.send_setup_in(now, msg, sid, &mut self.arena) {
            Ok(false) => {
                self.timers.disarm(&Timer::Session(tid, sid));
            }
            Ok(true) | Err(_) => self.arm_setup(now, tid, sid),
        }
        self.flush(now, tid);
    }

    /// The set-up messages of tunnel `tid` that left its channel's send queue after waiting
    /// ([`Core::send_setup`]): the set-up timer of each session still in set-up starts now.
    #[cold]
    fn setups_sent(&mut self, now: Instant, tid: u16) {
        let wait = self.setup_wait();
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        while let Some(sid) = t.channel.take_setup_sent() {
            let in_setup = t.sessions.get(&sid).is_some_and(|s| {
                matches!(
                    s.state,
                    SessionState::WaitReply
                        | SessionState::WaitConnect
                        | SessionState::WaitOutgoingReply
                )
            });
            if in_setup {
                self.timers.arm(Timer::Session(tid, sid), now + wait);
            }
        }
    }

    /// Sends on tunnel `tid` the ICRP [`ControlMessage::icrp`] builds (`peer_sid` in the
    /// header, `sid` assigned), with the vendor `RedirectTarget` AVP when `redirect` names one,
    /// and flushes, as [`Core::send_ctrl`] would: written straight into the datagram
    /// ([`Channel::send_written_in`], [`ControlMessage::emit_icrp`]) when the tunnel has no secret
    /// (nothing to hide) and the message leaves at once.
    pub fn send_icrp(
        &mut self,
        now: Instant,
        tid: u16,
        peer_sid: u16,
        sid: u16,
        redirect: Option<(u16, IpAddr)>,
    ) -> bool {
        let build = move || {
            let icrp = ControlMessage::icrp(0, peer_sid, sid);
            match redirect {
                Some((vendor, addr)) => {
                    icrp.with(Avp::optional(AvpValue::RedirectTarget { vendor, addr }))
                }
                None => icrp,
            }
        };
        if self.secret_of(tid).is_some() {
            return self.send_ctrl(now, tid, build());
        }
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        let write = |out: &mut bytes::BytesMut, header| {
            ControlMessage::emit_icrp(out, header, sid, redirect);
        };
        let ok = t
            .channel
            .send_written_in(now, peer_sid, ICRP_MAX_LEN, write, build, &mut self.arena)
            .is_ok();
        self.flush(now, tid);
        ok
    }

    /// Numbers `msg` on tunnel `tid` without sending it until [`Core::release_ctrl`]
    /// ([`Channel::reserve_in`], written into the endpoint's arena like a message sent at once):
    /// its Ns, or `msg` back when the channel cannot number it now.
    pub fn reserve_ctrl(
        &mut self,
        tid: u16,
        msg: ControlMessage<'static>,
    ) -> Result<u16, ControlMessage<'static>> {
        if !self
            .tunnels
            .get(&tid)
            .is_some_and(|t| t.channel.can_reserve())
        {
            return Err(msg);
        }
        let msg = self.prepare(tid, msg);
        self.tunnels
            .get_mut(&tid)
            .and_then(|t| t.channel.reserve_in(msg, &mut self.arena))
            // Not reached: `can_reserve` was checked.
            .ok_or_else(|| ControlMessage::hello(0))
    }

    /// Lets the message reserved at `ns` on tunnel `tid` leave ([`Channel::release`]).
    pub fn release_ctrl(&mut self, now: Instant, tid: u16, ns: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.release_in(now, ns, &mut self.arena);
            self.flush(now, tid);
        }
    }

    /// [`Core::release_ctrl`], then [`Core::ack_now`] (the message released carries the
    /// acknowledgement deferred for it, else a ZLB goes), with one look-up and one flush.
    pub fn release_ctrl_acked(&mut self, now: Instant, tid: u16, ns: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.release_in(now, ns, &mut self.arena);
            t.channel.end_defer();
            t.channel.flush_ack_in(&mut self.arena);
            self.flush(now, tid);
        }
    }

    /// [`Core::release_ctrl_acked`] of a held answer released alone (`lns::replicate` docs,
    /// output commit): in the usual case ([`Channel::release_alone`]) the message goes
    /// straight out, with the tunnel's timer synchronised as [`Core::flush`] does, on one
    /// look-up of the tunnel; else as [`Core::release_ctrl_acked`]. The same datagrams in the
    /// same order, the same channel and timer.
    pub fn release_ctrl_alone(&mut self, now: Instant, tid: u16, ns: u16) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        let Some(payload) = t.channel.release_alone(now, ns, &mut self.arena) else {
            self.release_ctrl_acked(now, tid, ns);
            return;
        };
        self.out.push_back(Transmit {
            dst: t.peer,
            src: t.local,
            link_dst: None,
            payload,
        });
        if let Some(d) = t.channel.sync_timer() {
            self.timers.arm(Timer::Tunnel(tid), d);
        }
        debug_assert_eq!(self.timers.deadline(&Timer::Tunnel(tid)), t.channel.armed());
    }

    /// The control channel of tunnel `tid` (a run of held ICRPs marked released on one
    /// look-up, [`Channel::mark_released`], then [`Core::release_marked_acked`]).
    pub(crate) fn channel_mut(&mut self, tid: u16) -> Option<&mut Channel> {
        self.tunnels.get_mut(&tid).map(|t| &mut t.channel)
    }

    /// Sends what [`Channel::mark_released`] let go on tunnel `tid`, then the acknowledgement
    /// deferred (carried, else a ZLB), with one flush: the end of [`Core::release_ctrl_acked`].
    pub fn release_marked_acked(&mut self, now: Instant, tid: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.release_marked_in(now, &mut self.arena);
            t.channel.end_defer();
            t.channel.flush_ack_in(&mut self.arena);
            self.flush(now, tid);
        }
    }

    /// Holds the acknowledgement of the message `ns` received on tunnel `tid`
    /// ([`Channel::hold_ack`]).
    pub fn hold_ack(&mut self, tid: u16, ns: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.hold_ack(ns);
        }
    }

    /// Ends the hold of [`Core::hold_ack`]: the acknowledgement goes (a ZLB if nothing carries
    /// it).
    pub fn release_ack(&mut self, now: Instant, tid: u16, ns: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.release_ack(ns);
            t.channel.flush_ack_in(&mut self.arena);
            self.flush(now, tid);
        }
    }

    /// Defers the ZLB owed on tunnel `tid` for an answer about to follow while fewer than half
    /// our receive window of the peer's messages wait for it, else sends it now
    /// ([`Channel::defer_ack_within_window`]).
    pub fn defer_ack_within_window(&mut self, now: Instant, tid: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            if t.channel.defer_ack_within_window(now, &mut self.arena) {
                self.flush(now, tid);
            }
        }
    }

    /// Ends the deferral of tunnel `tid`'s acknowledgement: the ZLB goes now if nothing sent
    /// carried it ([`Channel::end_defer`]).
    pub fn ack_now(&mut self, now: Instant, tid: u16) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.end_defer();
            t.channel.flush_ack_in(&mut self.arena);
            self.flush(now, tid);
        }
    }

    /// Moves the channel's datagrams out and re-arms its timer.
    pub fn flush(&mut self, now: Instant, tid: u16) {
        self.flush_with(now, tid, false);
    }

    /// [`Core::flush`], after the ZLB still owed ([`Channel::flush_ack_in`]) when `ack`: one
    /// look-up of the tunnel for both ([`Core::finish`]).
    #[inline(always)]
    fn flush_with(&mut self, now: Instant, tid: u16, ack: bool) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        if ack {
            t.channel.flush_ack_in(&mut self.arena);
        }
        // Looked up again only when the answers resolved may have changed the tunnel table.
        let t = if t.channel.has_resolved() {
            self.answers_resolved(now, tid);
            let Some(t) = self.tunnels.get_mut(&tid) else {
                return;
            };
            t
        } else {
            t
        };
        let t = if t.channel.has_setup_sent() {
            self.setups_sent(now, tid);
            let Some(t) = self.tunnels.get_mut(&tid) else {
                return;
            };
            t
        } else {
            t
        };
        while let Some(b) = t.channel.poll_transmit() {
            self.out.push_back(Transmit {
                dst: t.peer,
                src: t.local,
                link_dst: None,
                payload: b,
            });
        }
        // The channel remembers what the tunnel's timer is armed at: only a deadline before it
        // costs a queue operation (an acknowledgement costs none; an early firing re-arms).
        if let Some(d) = t.channel.sync_timer() {
            self.timers.arm(Timer::Tunnel(tid), d);
        }
        // The queue holds what the channel says, never after its deadline (every test and fuzz
        // run checks it).
        debug_assert_eq!(self.timers.deadline(&Timer::Tunnel(tid)), t.channel.armed());
        debug_assert!(
            t.channel
                .deadline()
                .is_none_or(|d| t.channel.armed().is_some_and(|a| a <= d))
        );
    }

    /// HELLO is due at `now` + `hello_interval` (RFC 2661 5.5, 6.5) unless the peer is heard from
    /// before.
    fn arm_hello(&mut self, now: Instant, tid: u16) {
        self.arm_tunnel_timer(tid, now + self.cfg.hello_interval);
    }

    /// Tunnel `tid`'s timer ([`Timer::Tunnel`]) fires at `at` or before: the queue is touched only
    /// when it is armed later than `at`, or not at all.
    pub(super) fn arm_tunnel_timer(&mut self, tid: u16, at: Instant) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            if t.channel.arm_at(at) {
                self.timers.arm(Timer::Tunnel(tid), at);
            }
        }
    }

    fn remove_tunnel(&mut self, tid: u16) -> Option<Tunnel> {
        let mut t = *self.tunnels.remove(&tid)?;
        self.pending_tunnels.remove(&tid);
        self.by_peer.remove((t.peer, t.peer_header_id()), tid);
        self.timers.disarm(&Timer::Tunnel(tid));
        self.timers.disarm(&Timer::Hold(tid));
        self.timers.disarm(&Timer::Idle(tid));
        for sid in t.sessions.keys() {
            self.timers.disarm(&Timer::Session(tid, *sid));
        }
        self.session_count = self.session_count.saturating_sub(t.sessions.len());
        let held = t.sessions.release_all();
        self.forget_held(held);
        t.sessions.shrink_to_fit();
        Some(t)
    }

    /// A tunnel died (retransmissions exhausted, or abandoned by the role). A recovery tunnel
    /// (RFC 4951) goes silently, its recovery failed.
    pub fn tunnel_dead(&mut self, tid: u16) {
        if self.recovery_tunnel_dead(tid) {
            return;
        }
        let Some(mut t) = self.remove_tunnel(tid) else {
            return;
        };
        self.timers.disarm(&Timer::Recovery(tid));
        if t.state == TunnelState::Closing {
            return;
        }
        let sessions: Vec<Session> = t.sessions.drain().map(|(_, s)| s).collect();
        self.event(Event::TunnelDown {
            tunnel: tid,
            peer: t.peer,
            result: None,
        });
        self.ups.push_back(Up::TunnelClosed(Box::new(TunnelClosed {
            tunnel: tid,
            was_setup: t.state != TunnelState::Established,
            result: None,
            redirect: None,
            sessions,
        })));
    }

    /// Adds a session to a tunnel.
    pub fn add_session(&mut self, tid: u16, s: Session, bounded: bool) -> bool {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        let taken = t.sessions.len() + t.sessions.held_len();
        if taken >= usize::from(u16::MAX) - 1
            || (bounded
                && (taken >= self.cfg.max_sessions_per_tunnel
                    || self.session_count >= self.cfg.max_sessions))
        {
            return false;
        }
        t.sessions.insert(s.local_id, s);
        self.session_count += 1;
        if self.idle_timeout.is_some() {
            // Armed only with an idle timeout (`arm_idle`).
            self.timers.disarm(&Timer::Idle(tid));
        }
        true
    }

    /// Removes a session (the tunnel's idle timer starts when it was the last one).
    pub fn remove_session(&mut self, now: Instant, tid: u16, sid: u16) -> Option<Session> {
        let s = self.tunnels.get_mut(&tid)?.sessions.remove(&sid)?;
        self.session_count = self.session_count.saturating_sub(1);
        self.timers.disarm(&Timer::Session(tid, sid));
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
            self.timers.arm(Timer::Idle(tid), now + d);
        }
    }

    pub fn session_mut(&mut self, tid: u16, sid: u16) -> Option<&mut Session> {
        self.tunnels.get_mut(&tid)?.sessions.get_mut(&sid)
    }

    /// A new session on tunnel `tid` under a fresh Session ID, within the session limits
    /// ([`Config::max_sessions_per_tunnel`], [`Config::max_sessions`]); `None` when full.
    pub fn new_session(
        &mut self,
        tid: u16,
        peer_id: u16,
        state: SessionState,
        serial: u32,
    ) -> Option<&mut Session> {
        let sid = self.alloc_session_id(tid, true)?;
        if !self.add_session(tid, Session::new(sid, peer_id, state, serial), true) {
            return None;
        }
        self.session_mut(tid, sid)
    }

    /// Arms the set-up timer of a session waiting for the peer's answer ([`Core::setup_wait`]).
    #[inline]
    pub fn arm_setup(&mut self, now: Instant, tid: u16, sid: u16) {
        let deadline = now + self.setup_wait();
        self.timers.arm(Timer::Session(tid, sid), deadline);
    }

    /// The data-plane handoff of session `sid` of tunnel `tid` as it stands
    /// ([`SessionHandoff`]); `local` is the unspecified address while not known.
    pub fn handoff(&self, tid: u16, sid: u16) -> Option<SessionHandoff> {
        let t = self.tunnels.get(&tid)?;
        let s = t.sessions.get(&sid)?;
        let unspecified = SocketAddr::new(
            match t.peer.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
            },
            0,
        );
        Some(SessionHandoff {
            session: SessionRef {
                tunnel: tid,
                session: sid,
            },
            local: t.local.unwrap_or(unspecified),
            peer: t.peer,
            peer_tunnel: t.peer_header_id(),
            peer_session: s.peer_header_id(),
            sequencing: s.sequencing,
            send_seq: s.sequencing,
            recv_seq: s.sequencing,
            lns_mode: self.lns,
            length_bit: true,
            offset: false,
            ns: s.data_ns,
            nr: s.data_nr,
        })
    }

    /// [`Event::SessionUp`] for session `sid` of tunnel `tid`, with its handoff.
    pub fn session_up(&mut self, tid: u16, sid: u16, call: Option<CallId>) {
        if let Some(handoff) = self.handoff(tid, sid) {
            let session = handoff.session;
            self.event(Event::SessionUp {
                session,
                call,
                peer: handoff.peer,
                handoff,
            });
        }
    }

    /// [`Event::SessionDown`].
    pub fn session_down(
        &mut self,
        session: Option<SessionRef>,
        call: Option<CallId>,
        result: Option<ResultCode<'static>>,
    ) {
        let cause = self.cdn_cause.take();
        self.event(Event::SessionDown {
            session,
            call,
            result,
            cause,
        });
    }

    /// A session in set-up got no answer in time (RFC 2661 5.8 and 7.4): cleared with CDN
    /// Result 10; returns that result.
    pub fn setup_timed_out(&mut self, now: Instant, tid: u16, sid: u16) -> ResultCode<'static> {
        let rc = ResultCode::new(ResultCodeValue::CDN_TIMEOUT);
        self.disconnect(now, tid, sid, rc.clone());
        rc
    }

    /// A CDN received (RFC 2661 6.12): its session removed, returned with the CDN's Result Code.
    /// A CDN whose sender never learnt our Session ID (our ICRP or ICRQ answer lost, or never
    /// sent by an LNS that failed: `lns::replicate` docs) has 0 in its header (RFC 2661 3.1); its
    /// Assigned Session ID (the sender's) names the session then.
    pub fn on_cdn(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
    ) -> Option<(Session, Option<ResultCode<'static>>)> {
        let sid = match m.header.session_id {
            0 => {
                let peer = m.assigned_session_id().filter(|p| *p != 0)?;
                self.tunnels
                    .get(&tid)?
                    .sessions
                    .find_by_peer(peer)?
                    .local_id
            }
            sid => sid,
        };
        let s = self.remove_session(now, tid, sid)?;
        self.cdn_cause = m
            .ppp_disconnect_cause()
            .cloned()
            .map(PppDisconnectCause::into_owned);
        Some((s, m.result_code().cloned().map(ResultCode::into_owned)))
    }

    /// Sends CDN for a session and removes it.
    pub fn disconnect(&mut self, now: Instant, tid: u16, sid: u16, result: ResultCode<'static>) {
        self.disconnect_with_cause(now, tid, sid, result, None);
    }

    /// Sends CDN for a session, with the PPP Disconnect Cause Code `cause` (RFC 3145 3.1, M=0)
    /// when given, and removes it; `false` when there is no such session.
    pub fn disconnect_with_cause(
        &mut self,
        now: Instant,
        tid: u16,
        sid: u16,
        result: ResultCode<'static>,
        cause: Option<PppDisconnectCause<'static>>,
    ) -> bool {
        let Some(s) = self.remove_session(now, tid, sid) else {
            return false;
        };
        let mut m = ControlMessage::cdn(0, s.peer_header_id(), sid, result);
        if let Some(c) = cause {
            m.push(Avp::optional(AvpValue::PppDisconnectCauseCode(c)));
        }
        self.send_ctrl(now, tid, m);
        true
    }

    /// Sends a PPP frame on an established session (RFC 2661 5.8 data message);
    /// [`CommandError::NoSession`] when there is no such established session.
    pub fn send_data(&mut self, session: SessionRef, frame: &[u8]) -> Result<(), CommandError> {
        let t = self
            .tunnels
            .get_mut(&session.tunnel)
            .ok_or(CommandError::NoSession)?;
        let (peer_tid, peer, local) = (t.peer_header_id(), t.peer, t.local);
        let s = t
            .sessions
            .get_mut(&session.session)
            .filter(|s| s.state == SessionState::Established)
            .ok_or(CommandError::NoSession)?;
        let d = s.data_message(peer_tid, frame);
        let mut v = Vec::with_capacity(d.encoded_len());
        d.emit(&mut v);
        self.transmit(peer, local, Bytes::from(v));
        Ok(())
    }

    /// Queues a datagram for `poll_transmit`.
    fn transmit(&mut self, dst: SocketAddr, src: Option<SocketAddr>, payload: Bytes) {
        self.out.push_back(Transmit {
            dst,
            src,
            link_dst: None,
            payload,
        });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let held = self.redirect_expiry.front().map(|e| e.0);
        match (self.timers.next_deadline(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// After the role processed a datagram: acknowledges with a ZLB whatever no answer carried.
    pub fn finish(&mut self, now: Instant) {
        self.cdn_cause = None;
        // Taken and put back: its buffer is reused from datagram to datagram.
        let mut dirty = std::mem::take(&mut self.dirty);
        for tid in dirty.drain(..) {
            self.flush_with(now, tid, true);
        }
        self.dirty = dirty;
    }
}

#[cfg(test)]
mod tests;
