//! L2TPv2 (RFC 2661) with LNS load redirection.
//!
//! * [`wire`]: the message codec.
//! * [`channel`]: the reliable control channel (Ns/Nr, windows, retransmission).
//! * [`tunnel`] and [`session`]: the RFC 2661 tunnel and session state machines, shared by both
//!   endpoints.
//! * [`Lac`]: asks a contact LNS for sessions, follows redirects (the vendor `RedirectTarget` AVP,
//!   or the standard Result 2 / Error 9 "try another directed" and Error 7 "try another"), relays
//!   PPP frames.
//! * [`Lns`]: serves sessions; as contact LNS it admits or redirects each call using
//!   [`pool::LnsPool`]; [`pool::VirtualLns`] decides which member of a virtual LNS is the contact.
//!
//! Both endpoints follow the crate's sans-IO contract: after any `handle_*` call or command, drain
//! `poll_transmit`, `poll_event` (and `poll_data`), then read `poll_timeout`; time never goes
//! backwards; a spurious `handle_timeout` is a no-op.
//!
//! Received PPP frames come out of `poll_data` (a bounded queue, [`Config::max_data_queue`]), not
//! as events, so that the event queue stays a low-volume stream of facts.
//!
//! A LAC sets a call up with an LNS, in memory and at one instant (the same over two
//! `UdpSocket`s: `examples/newcomer.rs`). `LnsConfig::default()` is a contact LNS
//! ([`LnsConfig::contact`] true) with an empty pool: it serves every call itself while under
//! [`LnsConfig::overload_percent`] (90), accepting each without asking the caller
//! ([`LnsConfig::admission`] `None`):
//!
//! ```
//! use std::time::Instant;
//! use telcp::l2tp::{Event, Lac, LacConfig, Lns, LnsConfig};
//! let now = Instant::now();
//! let (lac_addr, lns_addr) = ("10.0.9.1:1701".parse().unwrap(), "10.0.0.1:1701".parse().unwrap());
//! let mut lac = Lac::new(LacConfig::new(lns_addr), now).unwrap();
//! let mut lns = Lns::new(LnsConfig::default(), now).unwrap();
//! let call = lac.open_session(now).unwrap();
//! // A perfect in-process network: hand every datagram to the other side until both are quiet.
//! loop {
//!     let mut moved = false;
//!     while let Some(t) = lac.poll_transmit() {
//!         lns.handle_datagram(now, lac_addr, lns_addr, &t.payload).unwrap();
//!         moved = true;
//!     }
//!     while let Some(t) = lns.poll_transmit() {
//!         lac.handle_datagram(now, lns_addr, lac_addr, &t.payload).unwrap();
//!         moved = true;
//!     }
//!     if !moved { break; }
//! }
//! assert!(std::iter::from_fn(|| lac.poll_event())
//!     .any(|e| matches!(e, Event::SessionUp { call: Some(c), .. } if c == call)));
//! lac.send_ppp(call, b"\xff\x03\xc0\x21").unwrap();
//! let t = lac.poll_transmit().unwrap();
//! lns.handle_datagram(now, lac_addr, lns_addr, &t.payload).unwrap();
//! assert_eq!(&lns.poll_data().unwrap().frame[..], b"\xff\x03\xc0\x21");
//! ```
//!
//! # Virtual LNS failover: what the embedder does
//!
//! Members of a virtual LNS back each other up when each has [`LnsConfig::membership`] (its
//! health node id, an [`incarnation`](LnsMembership::incarnation) that grows on every restart,
//! the cluster key shared by all, of at least 16 octets, and the other members' own L2TP
//! addresses) and [`LnsConfig::replication`] ([`ReplicationConfig`]: its bounds and timers).
//! Each member then copies its established tunnels and sessions to one backup member, chosen
//! by load; when health finds a member Down, its backup takes its tunnels over and the LACs'
//! tunnels go on (the control channel resumed from the LAC's own state, or recovered the RFC
//! 4951 way when the LAC offered it). The crate moves no address and programs no data plane:
//!
//! * **Datagrams**: heartbeats and replication batches travel between the members' own
//!   addresses on the L2TP port. Hand every datagram that arrives there to
//!   [`Lns::handle_datagram`] like any other: the LNS tells them apart, and a replication
//!   batch that fails its AES-128-CMAC (RFC 4493, under a key derived from the cluster key)
//!   or replays one is refused ([`InputError::NotAuthorized`]) and changes nothing. Send each
//!   [`Transmit`](crate::Transmit) from its `src` when set: a tunnel taken over keeps the
//!   address the LAC knows, the failed member's.
//! * **[`Event::TakenOver`]** `{ failed, addr, tunnels, sessions }`: this member took over the
//!   tunnels member `failed` served at `addr`. Move `addr` to this host (assign it to an
//!   interface, announce it on the link) so that the LAC's packets arrive here, and install
//!   every [`SessionHandoff`] of `sessions` in the data plane. One event per address of the
//!   failed member. The same event with no tunnels and no sessions means two members took the
//!   same member over and this one won: move `addr` here again (from the member that yields).
//! * **[`Event::Yielded`]** `{ tunnel, owner, sessions, local }`: a member that was only cut off
//!   (a false Down) finds its tunnel taken over by `owner`, or a taker loses its claim to
//!   `owner`; the LNS drops the tunnel without a StopCCN. Remove the tunnel's sessions from the
//!   data plane and, once no tunnel of ours is left at `local` ([`Lns::tunnels_at`]), stop
//!   announcing that address: the LAC's packets go to `owner`.
//! * **Restart**: a member restarted by its supervisor before health found it Down (a higher
//!   incarnation, empty) crashed all the same: its backup takes its tunnels over at the restart
//!   as at a Down ([`Event::TakenOver`] there). The restarted member knows none of them and
//!   answers nothing on them; **[`Event::AddressTaken`]** `{ addr, owner }` tells it that
//!   `owner` took over what its former incarnation served at `addr`: once no tunnel of ours is
//!   left at `addr` ([`Lns::tunnels_at`]), stop answering there so the LAC's packets reach
//!   `owner` (on one host, close the socket bound to it; across hosts the address move does it).
//! * **Set-up latency**: a new call's ICRP waits until the backup acknowledged the call's
//!   record (one round trip between members), so that a crash at any moment loses no call the
//!   LAC has up. ICRPs sent while no backup was left are counted in
//!   [`Stats::setups_not_replicated`]: a crash would lose those calls. A backup that
//!   acknowledges nothing for a health Down interval (a member alive that does not replicate)
//!   is given up for another ([`Stats::backups_unresponsive`], [`Lns::unresponsive_members`]),
//!   so that wait stays bounded (one that acknowledged batches before only once the batch also
//!   went unanswered through [`Config::max_retries`] retransmissions: lost, not refused).
//! * **What is lost**: a member and its backup failing together before another backup holds a
//!   copy; records beyond [`ReplicationConfig::max_tunnels`] or
//!   [`ReplicationConfig::max_sessions`] ([`Stats::replicas_refused`]); tunnels a takeover could
//!   not adopt ([`Stats::sessions_lost_in_takeover`]). A call the copy lacks is cleared at the
//!   LAC with a CDN once the takeover is settled ([`Stats::unknown_sessions_cleared`]).

/// The polls and counters the LAC and the LNS share over their tunnel engine (the crate's sans-IO
/// contract), written once for both inside their `impl` blocks.
macro_rules! shared_endpoint_api {
    () => {
        /// Next event (a bounded queue, [`crate::l2tp::Config::max_events`]).
        #[must_use]
        pub fn poll_event(&mut self) -> Option<crate::l2tp::Event> {
            self.core.events.pop()
        }

        /// Next PPP frame received (a bounded queue, [`crate::l2tp::Config::max_data_queue`]).
        #[must_use]
        pub fn poll_data(&mut self) -> Option<crate::l2tp::Data> {
            self.core.data.pop()
        }

        /// Counters ([`crate::l2tp::Stats`]).
        pub fn stats(&self) -> crate::l2tp::Stats {
            crate::l2tp::Stats {
                dropped_frames: self.core.data.dropped(),
                events_dropped: self.core.events.dropped(),
                ..self.core.stats
            }
        }

        /// Number of tunnels (any state).
        pub fn tunnel_count(&self) -> usize {
            self.core.tunnel_count()
        }

        /// The full record of tunnel `tunnel` (our Tunnel ID): both ids, addresses, state,
        /// session count; `None` when not held.
        pub fn tunnel_info(&self, tunnel: u16) -> Option<crate::l2tp::TunnelInfo> {
            self.core.tunnel_info(tunnel)
        }

        /// The full record of a session: both ends' ids, addresses, state, data policy,
        /// sequence numbers, frame counters; `None` when not held.
        pub fn session_info(
            &self,
            session: crate::l2tp::SessionRef,
        ) -> Option<crate::l2tp::SessionInfo> {
            self.core.session_info(session)
        }

        /// An L2TP datagram through the tunnel engine, then what it hands up to the role, then
        /// a ZLB acknowledging whatever no answer carried (RFC 2661 5.8).
        fn l2tp_input(
            &mut self,
            now: std::time::Instant,
            from: std::net::SocketAddr,
            to: std::net::SocketAddr,
            data: &[u8],
        ) -> Result<(), crate::l2tp::InputError> {
            let r = self.core.handle_datagram(now, from, to, data);
            self.process(now);
            self.core.finish(now);
            r
        }

        /// The tunnel engine's due timers, then what they hand up to the role.
        fn l2tp_timeout(&mut self, now: std::time::Instant) {
            self.core.handle_timeout(now);
            self.process(now);
        }
    };
}

pub mod call;
pub mod channel;
mod close;
mod event;
pub mod lac;
pub mod lns;
pub mod pool;
pub mod replica;
pub mod session;
pub mod tunnel;
pub mod wire;

pub use call::CallDetails;
pub use close::Close;
pub use event::{AdmissionId, CallId, Data, Event, SessionHandoff, SessionRef};
pub use lac::{CallRequest, Lac, LacConfig, PlanEndpoint, PlanError, PlanPolicy, TunnelPlan};
pub use lns::{AcceptParams, AdmissionConfig, Lns, LnsConfig, LnsMembership, ReplicationConfig};
pub use tunnel::recovery::{FailoverConfig, RestoredTunnel, UnsureSessions};
pub use tunnel::{SessionInfo, TunnelInfo};

use crate::io::RateLimit;
use std::time::Duration;
use wire::{AvpType, MessageType, WireError};

/// The UDP port of L2TP.
pub const L2TP_PORT: u16 = 1701;

/// Configuration shared by LAC and LNS. `Debug` shows the secret's length only.
#[derive(Clone)]
pub struct Config {
    /// Our Host Name AVP.
    pub host_name: Vec<u8>,
    /// Tunnel secret (challenge/response and hidden AVPs); a LAC plan endpoint's
    /// [`lac::PlanEndpoint::password`] replaces it for the tunnel to that endpoint.
    pub secret: Option<Vec<u8>>,
    /// Send a Challenge in SCCRQ/SCCRP and require the peer's response (needs `secret`).
    pub challenge: bool,
    /// Hide the Assigned Session ID, Calling and Called Number AVPs (needs `secret`).
    pub hide_avps: bool,
    /// Hidden AVPs are padded (RFC 2661 4.3: padding after the original value conceals its
    /// length) so that their hidden subformat (2-octet original length, value, padding) is a
    /// multiple of this many octets. Default 16 (some peers, l2tpns among them, refuse shorter
    /// hidden values); 0 or 1: no padding; at most 1017 (an AVP's largest value).
    pub hidden_pad_block: usize,
    /// Vendor ID of the load-redirection AVPs.
    pub enterprise: u16,
    /// Our Receive Window Size.
    pub receive_window: u16,
    /// First retransmission timeout.
    pub retransmit_initial: Duration,
    /// Retransmission timeout cap.
    pub retransmit_cap: Duration,
    /// Retransmissions before a tunnel is torn down.
    pub max_retries: u32,
    /// HELLO after this long without a message from the peer.
    pub hello_interval: Duration,
    /// How long a closed tunnel is kept to acknowledge the peer's retransmissions (RFC 2661 5.7's
    /// full retransmission cycle, 31 s by default; an RFC 4951 recovery tunnel never less than
    /// the control channel's retransmission span, `retransmit_initial` doubling up to
    /// `retransmit_cap` over `max_retries`); the sender of a StopCCN keeps it longer while its
    /// StopCCN is unacknowledged.
    pub hold_period: Duration,
    /// Maximum tunnels (set-up ones included). When full, an SCCRQ gets StopCCN Result 2 / Error 4
    /// (or, on a contact LNS, a redirect) and [`Lac::open_session`] fails the call.
    pub max_tunnels: usize,
    /// Maximum tunnels in set-up at once (a flood of SCCRQs cannot hold more); beyond, StopCCN
    /// Result 2 / Error 4 without keeping state.
    pub max_pending_tunnels: usize,
    /// A session not established within this time is dropped (CDN result 10, time-out). The
    /// wait for the peer's answer (ICRP; ICCN, OCRP, OCCN) is never shorter than the time the
    /// peer's control channel may still be retransmitting it (`retransmit_initial` doubling up to
    /// `retransmit_cap` over `max_retries` retransmissions; 31 s by default), RFC 2661 5.8. At a
    /// call's set-up timeout a LAC gives the tunnel up (the LNS silent) only when its channel
    /// has retransmitted unacknowledged for half of this, never less than that span.
    pub session_setup_timeout: Duration,
    /// Maximum sessions per tunnel. When full, an ICRQ is redirected (contact LNS) or refused with
    /// CDN result 4.
    pub max_sessions_per_tunnel: usize,
    /// Maximum sessions in total (same answer when full).
    pub max_sessions: usize,
    /// Out-of-order control messages kept per tunnel.
    pub max_out_of_order: usize,
    /// Control messages waiting for the send window per tunnel; beyond, a message is not queued
    /// (the command that needed it fails or the peer's request goes unanswered and is retried).
    pub max_send_queue: usize,
    /// Received PPP frames waiting for `poll_data`; more are dropped.
    pub max_data_queue: usize,
    /// Events waiting for `poll_event`; more are dropped (counted).
    pub max_events: usize,
    /// Ask for sequenced data (Sequencing Required in ICCN / ICRP).
    pub sequencing_required: bool,
    /// Bound on the answers sent to unauthenticated input: the stateless StopCCN refusing an
    /// SCCRQ (tunnel table or set-up table full, a Challenge without a secret, a tunnel-level
    /// redirect). A flood of SCCRQs with spoofed sources cannot turn the endpoint into a
    /// reflector: beyond the bucket, refusals are suppressed and counted in
    /// [`Stats::refusals_suppressed`]. Answers inside a tunnel (to its peer, once the tunnel
    /// exists) are not limited. Default 100 per second, bursts of 20.
    pub refusals: RateLimit,
    /// RFC 4951 failover: `Some` advertises the Failover Capability AVP (with its C and D bits
    /// and Recovery Time) in every SCCRQ and SCCRP, answers a recovery SCCRQ (Tunnel Recovery) for
    /// a tunnel whose peer advertised the C bit, keeps such a tunnel for the peer's Recovery Time
    /// once the peer stops answering, answers FSQ with FSR; with the C bit, lets this endpoint
    /// recover its own tunnels (`tunnel::Core::start_recovery`). `None` (the default): no
    /// Failover Capability is sent, a recovery SCCRQ is refused as carrying an unrecognised
    /// mandatory AVP (StopCCN Result 2 / Error 8, RFC 2661 4.1) and FSQ as an unknown message.
    pub failover: Option<FailoverConfig>,
    /// Tunnels (and their sessions) the endpoint starts with, as if established before: the
    /// minimal restore hook of an endpoint that lost its control-channel state (RFC 4951's failed
    /// endpoint). Each may start its RFC 4951 recovery at once ([`RestoredTunnel::recover`]).
    /// A virtual LNS member restores tunnels from its replicas instead
    /// ([`LnsConfig::replication`]). Default empty.
    pub restore: Vec<RestoredTunnel>,
    /// Seed of the RNG (tunnel/session ids, challenges, tie breakers, Random Vectors): `None`
    /// (the default) reads 32 bytes from the operating system at `new`, as RFC 2661 4.3 and 5.1.1
    /// want challenges and Random Vectors unpredictable; `Some` replays a run exactly (tests,
    /// simulations: [`crate::io::seed`]).
    pub seed: Option<[u8; 32]>,
}

/// Counters of an L2TP endpoint ([`Lns::stats`], [`Lac::stats`]); each saturates at `u64::MAX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Stateless refusals (StopCCN answering an SCCRQ without keeping a tunnel, RFC 2661 4.4.3,
    /// 5.7, 6.4) sent.
    pub refusals_sent: u64,
    /// Stateless refusals not sent because [`Config::refusals`] was exhausted.
    pub refusals_suppressed: u64,
    /// Received PPP frames (RFC 2661 5.8 data messages of an established session) dropped
    /// because [`Config::max_data_queue`] frames were already waiting for `poll_data`.
    pub dropped_frames: u64,
    /// Events dropped because [`Config::max_events`] were already waiting for `poll_event`.
    pub events_dropped: u64,
    /// RFC 4951 recoveries started: recovery SCCRQs sent (recovering endpoint) or accepted
    /// (non-failed endpoint).
    pub recoveries_started: u64,
    /// RFC 4951 recoveries completed (the old tunnel's control channel resumed).
    pub recoveries_succeeded: u64,
    /// RFC 4951 recoveries that failed ([`Event::TunnelRecoveryFailed`]).
    pub recoveries_failed: u64,
    /// Recovery SCCRQs refused (no such tunnel, failover not negotiated for it, or failover off).
    pub recoveries_refused: u64,
    /// Recovery SCCRQs refused because they came from an address not configured as a recovery
    /// endpoint ([`FailoverConfig::recovery_peers`], RFC 4951 8); counted in
    /// `recoveries_refused` too.
    pub recoveries_refused_peer: u64,
    /// Recovery tunnels refused because a newer recovery of the same tunnel overtook them: as
    /// the non-failed endpoint, those it stopped (StopCCN Result 3); as the failed endpoint,
    /// those it then tried again (RFC 4951; `tunnel::recovery` docs).
    pub recoveries_superseded: u64,
    /// LNS: recovery SCCRPs that came for no tunnel here and were answered with StopCCN, the
    /// recovery they answer being another member's that yielded the tunnel to us (RFC 4951;
    /// `lns::takeover` docs, stray recoveries).
    pub stray_recoveries_stopped: u64,
    /// Tunnels kept for the peer's Recovery Time after their control channel gave up (RFC 4951:
    /// the non-failed endpoint does not tear the tunnel down while its peer may recover).
    pub recovery_waits: u64,
    /// Sessions queried in FSQ (RFC 4951).
    pub sessions_queried: u64,
    /// Sessions cleared locally because the peer's FSR said it has no such session.
    pub sessions_cleared_by_fsr: u64,
    /// Established sessions cleared because the peer's ICRQ named one (its Assigned Session ID
    /// being the peer's Session ID of that session) on a tunnel where both ends advertised a
    /// Failover Capability, the ICRQ answered with CDN (RFC 4951 3.3).
    pub sessions_cleared_by_icrq: u64,
    /// Sessions cleared when an RFC 4951 recovery tunnel came up: those not established,
    /// silently, by either endpoint (3.3 Step I), and, by the recovering endpoint with CDN,
    /// those using data sequence numbers when either end lacks the D bit (3.2.3).
    pub sessions_cleared_at_recovery: u64,
    // -- Virtual LNS failover --
    /// Replication records queued for a backup or a member (takeover notices).
    pub replicas_sent: u64,
    /// Incremental records not queued because [`ReplicationConfig::max_queue`] were waiting (a
    /// bulk sync follows).
    pub replicas_overflowed: u64,
    /// Bulk syncs started (a new backup, a restarted one, an overflowed queue).
    pub replica_syncs: u64,
    /// Records received and not kept: beyond [`ReplicationConfig::max_tunnels`] or
    /// [`ReplicationConfig::max_sessions`] for their member, or a session of a tunnel not held.
    pub replicas_refused: u64,
    /// Records received of an extension kind this version does not know (a later version's,
    /// [`replica::Record::Extension`]; `replica` docs, extension kinds): skipped, the rest of
    /// their batch applied.
    pub replicas_unknown: u64,
    /// Tunnels taken over from failed members.
    pub tunnels_taken_over: u64,
    /// Sessions taken over from failed members.
    pub sessions_taken_over: u64,
    /// Replicated sessions a takeover could not adopt (their tunnel's id in use here, or the
    /// tunnel or session table full), tunnels lost counting all their sessions.
    pub sessions_lost_in_takeover: u64,
    /// Our tunnels yielded to a backup that took them over ([`Event::Yielded`]).
    pub tunnels_yielded: u64,
    /// Sessions of a tunnel taken over that the copy lacked, cleared at the LAC with a CDN
    /// answering their data (`lns::takeover` docs, sessions the copy lacks).
    pub unknown_sessions_cleared: u64,
    /// Data messages on such sessions left unanswered because
    /// [`Config::max_sessions_per_tunnel`] had been answered on that tunnel already.
    pub unknown_sessions_unanswered: u64,
    /// ICRPs sent before a backup applied their session's record because no backup was left
    /// while they were held (`lns::replicate` docs, output commit; a change of backup makes
    /// them wait for the new one's bulk sync): the calls a crash of this LNS could then lose
    /// until a new backup's bulk sync lands.
    pub setups_not_replicated: u64,
    /// Backups given up because a batch of ours went unacknowledged for a health Down
    /// interval (at least two replication retransmission caps) while health saw them alive: a
    /// member that does not replicate (replication off, another cluster key, its replication
    /// filtered). One that acknowledged a batch of ours since it started is given up only once
    /// the batch also went unanswered through [`Config::max_retries`] retransmissions (RFC 2661
    /// 5.8). Another is chosen; none is chosen again until it acknowledges or sends a batch, or
    /// restarts (`lns::replicate` docs, backup).
    pub backups_unresponsive: u64,
    /// SCCRQs that arrived at the LNS's cluster address ([`LnsMembership::cluster_addr`]):
    /// dropped without an answer, no tunnel set up.
    pub sccrqs_at_cluster_address: u64,
    // -- Call admission --
    /// Calls reported for admission ([`Event::IncomingCall`]).
    pub admissions_asked: u64,
    /// Calls the caller accepted ([`Lns::accept`]).
    pub admissions_accepted: u64,
    /// Calls the caller refused ([`Lns::refuse`]).
    pub admissions_refused: u64,
    /// Calls refused because [`AdmissionConfig::max_pending`] decisions were already pending
    /// (CDN Result 2, Error 4).
    pub admissions_overflowed: u64,
    /// Calls refused because the caller did not answer within [`AdmissionConfig::timeout`] (CDN
    /// Result 4).
    pub admissions_timed_out: u64,
    // -- LAC tunnel plans --
    /// LNSs put on the LAC's deny-list ([`LacConfig::deny_time`]) after failing a plan call.
    pub lns_denied: u64,
    /// Deny-list entries evicted before their time because [`LacConfig::max_denied`] were held.
    pub deny_list_evictions: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host_name: b"telcp".to_vec(),
            secret: None,
            challenge: false,
            hide_avps: false,
            hidden_pad_block: 16,
            enterprise: wire::DEFAULT_ENTERPRISE,
            receive_window: 8,
            retransmit_initial: Duration::from_secs(1),
            retransmit_cap: Duration::from_secs(8),
            max_retries: 5,
            hello_interval: Duration::from_secs(60),
            hold_period: Duration::from_secs(31),
            max_tunnels: 1024,
            max_pending_tunnels: 256,
            session_setup_timeout: Duration::from_secs(30),
            max_sessions_per_tunnel: 4096,
            max_sessions: 65536,
            max_out_of_order: 16,
            max_send_queue: 256,
            max_data_queue: 1024,
            max_events: 65536,
            sequencing_required: false,
            refusals: RateLimit::default(),
            failover: None,
            restore: Vec::new(),
            seed: None,
        }
    }
}

/// A field of [`Config`], [`LacConfig`] or [`LnsConfig`], named in a [`ConfigError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigField {
    /// [`Config::hidden_pad_block`] (at most an AVP's largest value, RFC 2661 4.1).
    HiddenPadBlock,
    /// [`Config::host_name`] (1 to 512 octets).
    HostName,
    /// [`Config::receive_window`] (non-zero, RFC 2661 4.4.3).
    ReceiveWindow,
    /// [`Config::max_tunnels`] (1 to 65535: Tunnel IDs are 16 bits, RFC 2661 3.1).
    MaxTunnels,
    /// [`Config::max_sessions_per_tunnel`] (1 to 65535: Session IDs are 16 bits).
    MaxSessionsPerTunnel,
    /// [`Config::retransmit_initial`] (non-zero, at most `retransmit_cap`).
    RetransmitInitial,
    /// [`Config::retransmit_cap`] (at most an hour).
    RetransmitCap,
    /// [`Config::hello_interval`] (non-zero, at most a day).
    HelloInterval,
    /// [`Config::hold_period`] (at most a day).
    HoldPeriod,
    /// [`Config::session_setup_timeout`] (at most a day).
    SessionSetupTimeout,
    /// [`LacConfig::max_calls`] (non-zero).
    MaxCalls,
    /// [`LacConfig::idle_tunnel_timeout`] (at most a day).
    IdleTunnelTimeout,
    /// [`LnsConfig::redirect_hold`] (at most a day).
    RedirectHold,
    /// [`pool::VirtualLns::me`] (an index into its `members`).
    VirtualLnsMe,
    /// [`FailoverConfig::recovery_time`] (at most a day, whole milliseconds of 32 bits).
    RecoveryTime,
    /// [`FailoverConfig::control`] and [`FailoverConfig::data`]: at least one set (RFC 4951 5.1:
    /// "The Failover Capability AVP MUST NOT be sent with C bit and D bit cleared").
    FailoverCapability,
    /// [`Config::restore`] (non-zero, distinct ids, within the table limits).
    Restore,
    /// [`FailoverConfig::recovery_peers`] (at most [`tunnel::recovery::MAX_RECOVERY_PEERS`]).
    RecoveryPeers,
    /// [`LnsConfig::admission`] (`max_pending` at least 1, `timeout` non-zero and at most a
    /// minute).
    Admission,
    /// [`LacConfig::deny_time`] (at most a day).
    DenyTime,
    /// [`LacConfig::contact_lns`] (a usable destination: [`ConfigError::UnusableAddress`]).
    ContactLns,
    /// [`LacConfig::alternates`] (usable destinations: [`ConfigError::UnusableAddress`]).
    Alternates,
    /// [`pool::VirtualLns::virtual_addr`] (not unspecified: [`ConfigError::UnusableAddress`]).
    VirtualAddress,
    /// [`pool::VirtualLns::members`] (none unspecified: [`ConfigError::UnusableAddress`]).
    VirtualLnsMembers,
    /// [`LnsMembership::services`] (each node among the `peers`, at most once; no address
    /// unspecified: [`ConfigError::UnusableAddress`]).
    MembershipServices,
}

/// A configuration the endpoint cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `challenge` or `hide_avps` without a secret.
    #[error("challenge or hidden AVPs need a secret")]
    NoSecret,
    /// A field is zero or out of its range (the same name in every subsystem).
    #[error("{0:?} out of range")]
    OutOfRange(ConfigField),
    /// A peer address no datagram can be sent to: port 0 (reserved, RFC 6335 section 6) or the
    /// unspecified address (0.0.0.0 or `::`, never a destination: RFC 1122 section 3.2.1.3,
    /// RFC 4291 section 2.5.2). `field` is [`ConfigField::ContactLns`] or
    /// [`ConfigField::Alternates`], or [`ConfigField::VirtualAddress`] or
    /// [`ConfigField::VirtualLnsMembers`] or [`ConfigField::MembershipServices`] (IP
    /// addresses, shown at [`L2TP_PORT`]); an
    /// [`LnsMembership`] peer's is refused by the health monitor ([`ConfigError::Health`] with
    /// [`crate::health::ConfigError::UnusableAddress`]), a tunnel plan's server by
    /// [`lac::PlanError::UnusableAddress`]. The same name in `mip::ConfigError` and
    /// `steering::ConfigError`.
    #[error("{field:?}: unusable address {addr}")]
    UnusableAddress {
        /// The field.
        field: ConfigField,
        /// The address as configured.
        addr: std::net::SocketAddr,
    },
    /// The health tuning ([`LnsConfig::health`]) or the monitor built with
    /// [`LnsConfig::membership`] was refused.
    #[error(transparent)]
    Health(#[from] crate::health::ConfigError),
    /// `seed: None` and the operating system gave no entropy.
    #[error(transparent)]
    Entropy(#[from] crate::io::EntropyError),
}

/// A bounded table of an endpoint, named when it is full ([`InputError::Full`],
/// [`CommandError::Full`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Table {
    /// Tunnels ([`Config::max_tunnels`], [`Config::max_pending_tunnels`]) or free Tunnel IDs.
    Tunnels,
    /// Sessions ([`Config::max_sessions`], [`Config::max_sessions_per_tunnel`]).
    Sessions,
    /// The LAC's calls ([`LacConfig::max_calls`]).
    Calls,
}

/// What was not expected ([`InputError::Unexpected`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unexpected {
    /// A data message for a session not yet established (RFC 2661 7.4: data flows once
    /// established).
    DataBeforeEstablished,
    /// An SCCRQ with Assigned Tunnel ID 0 (RFC 2661 4.4.3: the id is non-zero).
    ZeroTunnelId,
    /// An SCCRQ that lost the Tie Breaker to ours (RFC 2661 4.4.3): our request stands.
    TieBreakerLost,
    /// An SCCRQ whose Tie Breaker equals ours (RFC 2661 4.4.3): both requests are dropped.
    TieBreakerEqual,
    /// A heartbeat, but no health monitor is configured ([`LnsConfig::membership`]).
    Heartbeat,
    /// A recovery SCCRQ (RFC 4951 Tunnel Recovery) for a tunnel this endpoint does not have
    /// with that peer Tunnel ID, or whose peer did not advertise the C bit: refused with StopCCN
    /// Result 2 / Error 3, no tunnel kept.
    RecoveryRefused,
    /// A recovery SCCRQ from an address not in [`FailoverConfig::recovery_peers`] (RFC 4951 8):
    /// refused with StopCCN Result 4, no tunnel kept.
    RecoveryPeerNotAllowed,
    /// A replication message, but no replication is configured ([`LnsConfig::replication`]).
    Replication,
    /// An SCCRQ at the LNS's cluster address ([`LnsMembership::cluster_addr`]): dropped, no
    /// tunnel set up, counted in [`Stats::sccrqs_at_cluster_address`].
    AtClusterAddress,
}

/// Why a datagram was not accepted (state unchanged; a refusal may have been queued).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Not a valid L2TPv2 message.
    #[error("malformed: {0}")]
    Wire(#[from] WireError),
    /// For a tunnel we do not have (or not from its peer).
    #[error("unknown tunnel {0}")]
    UnknownTunnel(u16),
    /// For a session we do not have.
    #[error("unknown session {0}")]
    UnknownSession(u16),
    /// Not expected in this state (answered as the RFC says, or ignored).
    #[error("unexpected in this state: {0:?}")]
    Unexpected(Unexpected),
    /// Refused for lack of resources (answered with StopCCN/CDN where the RFC asks).
    #[error("refused: {0:?} full")]
    Full(Table),
    /// A heartbeat the health monitor refused.
    #[error(transparent)]
    Health(#[from] crate::health::HealthError),
    /// Authentication failed (StopCCN result 4 sent; a replication message: bad MAC, replayed,
    /// or from no member).
    #[error("authentication failed")]
    NotAuthorized,
    /// An authenticated replication message whose framing or records are malformed
    /// ([`replica::RecordError`]).
    #[error("replication: {0}")]
    Replica(replica::RecordError),
    /// An SCCRQ carrying an AVP with M=1 that we do not recognise: refused with StopCCN Result 2 /
    /// Error 8, no tunnel kept (RFC 2661 4.1).
    #[error("unrecognised mandatory AVP {avp} of vendor {vendor}")]
    UnknownMandatoryAvp {
        /// The AVP's Vendor ID.
        vendor: u16,
        /// The AVP's Attribute Type.
        avp: AvpType,
    },
    /// An SCCRQ carrying an AVP with M=1 of a type RFC 2661 defines (or RFC 3145, RFC 4951)
    /// whose value breaks the type's length rule (4.4: a Call Serial Number of 2 octets): refused
    /// with StopCCN Result 2 / Error 2 "Length is wrong" (4.4.2), no tunnel kept. (In any other
    /// message the session or tunnel is ended the same way and the datagram is taken.)
    #[error("mandatory AVP {avp} with a value of the wrong length")]
    MalformedMandatoryAvp {
        /// The AVP's Attribute Type (Vendor ID 0).
        avp: AvpType,
    },
    /// An SCCRQ (or SCCRP) of a Protocol Version other than 1.0: refused with StopCCN Result
    /// Code 5, the Error Code giving 1.0 as the highest version supported (RFC 2661 4.4.2,
    /// 4.4.3); for an SCCRQ no tunnel is kept.
    #[error("unsupported protocol version {version}.{revision}")]
    UnsupportedVersion {
        /// The Ver octet of the peer's Protocol Version AVP.
        version: u8,
        /// The Rev octet.
        revision: u8,
    },
    /// An SCCRQ lacking an AVP RFC 2661 section 6.1 requires (or carrying Assigned Tunnel ID 0):
    /// refused with StopCCN Result 2 / Error 6 (Error 3 for the zero id), no tunnel kept.
    #[error("{message} lacks required AVP {avp}")]
    MissingAvp {
        /// The message type.
        message: MessageType,
        /// The missing AVP.
        avp: AvpType,
    },
}

/// A command that could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A table is full.
    #[error("{0:?} full")]
    Full(Table),
    /// No such session or call, or not established.
    #[error("no such established session")]
    NoSession,
    /// The peer advertised no bearer or no framing an outgoing call could use (Bearer /
    /// Framing Capabilities, RFC 2661 4.4.3), so no OCRQ can name one (4.4.4).
    #[error("the peer advertised no usable bearer or framing capability")]
    NoCapability,
    /// No such tunnel, or not in a state the command applies to.
    #[error("no such tunnel")]
    NoTunnel,
    /// RFC 4951 failover was not negotiated for the tunnel: this endpoint does not advertise the
    /// C bit ([`Config::failover`]) or the peer sent no Failover Capability.
    #[error("RFC 4951 failover not negotiated for this tunnel")]
    FailoverNotNegotiated,
    /// No pending admission decision has this id: it was already answered, it timed out, its
    /// tunnel went down, or it never existed ([`Lns::accept`], [`Lns::refuse`]).
    #[error("no such pending admission")]
    NoAdmission,
    /// A call detail does not fit in one AVP ([`Lac::open_call`]).
    #[error(transparent)]
    CallDetails(#[from] call::CallDetailsTooLong),
}

impl Config {
    /// Checks every field against its range (see [`ConfigField`]).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if (self.challenge || self.hide_avps) && self.secret.is_none() {
            return Err(ConfigError::NoSecret);
        }
        let day = Duration::from_secs(86_400);
        let ids = 1..=usize::from(u16::MAX);
        let bad = [
            (
                self.hidden_pad_block > wire::avp::MAX_VALUE_LEN,
                ConfigField::HiddenPadBlock,
            ),
            (
                self.host_name.is_empty() || self.host_name.len() > 512,
                ConfigField::HostName,
            ),
            (self.receive_window == 0, ConfigField::ReceiveWindow),
            (!ids.contains(&self.max_tunnels), ConfigField::MaxTunnels),
            (
                !ids.contains(&self.max_sessions_per_tunnel),
                ConfigField::MaxSessionsPerTunnel,
            ),
            (
                self.retransmit_initial.is_zero() || self.retransmit_initial > self.retransmit_cap,
                ConfigField::RetransmitInitial,
            ),
            (
                self.retransmit_cap > Duration::from_secs(3600),
                ConfigField::RetransmitCap,
            ),
            (
                self.hello_interval.is_zero() || self.hello_interval > day,
                ConfigField::HelloInterval,
            ),
            (self.hold_period > day, ConfigField::HoldPeriod),
            (
                self.session_setup_timeout > day,
                ConfigField::SessionSetupTimeout,
            ),
            (
                self.failover
                    .as_ref()
                    .is_some_and(|f| f.recovery_time > day),
                ConfigField::RecoveryTime,
            ),
            (
                self.failover
                    .as_ref()
                    .is_some_and(|f| !f.control && !f.data),
                ConfigField::FailoverCapability,
            ),
            (!tunnel::recovery::restore_ok(self), ConfigField::Restore),
            (
                self.failover
                    .as_ref()
                    .is_some_and(|f| f.recovery_peers.len() > tunnel::recovery::MAX_RECOVERY_PEERS),
                ConfigField::RecoveryPeers,
            ),
        ];
        match bad.into_iter().find(|(b, _)| *b) {
            Some((_, field)) => Err(ConfigError::OutOfRange(field)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
