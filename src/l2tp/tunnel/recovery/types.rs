//! The public types of RFC 4951 recovery: its configuration, the restore hook's tunnel identity,
//! the sessions to query, and where a tunnel stands in a recovery.

use crate::l2tp::Config;
use crate::l2tp::wire::avp::FailoverCapability;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// RFC 4951 failover configuration ([`crate::l2tp::Config::failover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverConfig {
    /// C bit: this endpoint can recover its own control channel (it may run
    /// `tunnel::Core::start_recovery` after a takeover). An endpoint without it still keeps and
    /// resumes tunnels its peer recovers.
    pub control: bool,
    /// D bit: this endpoint can reset the Nr of its sessions' data channels that use sequence
    /// numbers after a failover (RFC 4951 3.2.3: after a recovery, [`Self::data_reset_packets`]
    /// data messages in sequence with each other but behind the expected Ns set it). Without
    /// it on either end, the recovering endpoint clears such sessions with CDN. With neither
    /// bit, [`crate::l2tp::Config`] is refused ([`crate::l2tp::ConfigField::FailoverCapability`]:
    /// RFC 4951 5.1 never sends the AVP with both bits clear).
    pub data: bool,
    /// RFC 4951 3.2.3's 'n' ("The value of 'n' SHOULD be configurable"): how many data messages
    /// of a session, in sequence with each other but behind the Ns expected, reset the expected
    /// Ns after a recovery (with the D bit; 0 is taken as 1). Default 3.
    pub data_reset_packets: u8,
    /// Recovery Time advertised: how long the peer should keep a tunnel after this endpoint
    /// stops answering, counted from when the peer's control channel timeout starts (RFC 4951
    /// 5.1; milliseconds on the wire; at most a day).
    pub recovery_time: Duration,
    /// RFC 4951 8: "an endpoint may be configured with the possible set of recovery endpoints
    /// that could recover a tunnel": the addresses a recovery SCCRQ (Tunnel Recovery) is taken
    /// from; from any other it is refused with StopCCN Result 4 (not authorized), counted in
    /// [`crate::l2tp::Stats::recoveries_refused_peer`] and
    /// [`crate::l2tp::Unexpected::RecoveryPeerNotAllowed`]. Empty (the default): any address, as
    /// a backup of a virtual LNS may recover from its own (a secret and challenge then
    /// authenticate the recovery, 3.2.1). At most [`MAX_RECOVERY_PEERS`]
    /// ([`crate::l2tp::ConfigField::RecoveryPeers`]).
    pub recovery_peers: Vec<IpAddr>,
}

/// At most this many addresses in [`FailoverConfig::recovery_peers`].
pub const MAX_RECOVERY_PEERS: usize = 64;

impl Default for FailoverConfig {
    /// C bit set, D bit clear, 10 s, a data channel reset after 3 messages.
    fn default() -> Self {
        FailoverConfig {
            control: true,
            data: false,
            recovery_time: Duration::from_secs(10),
            data_reset_packets: 3,
            recovery_peers: Vec::new(),
        }
    }
}

impl FailoverConfig {
    /// Whether a recovery SCCRQ from `ip` is taken ([`Self::recovery_peers`]).
    pub fn recovery_peer_allowed(&self, ip: IpAddr) -> bool {
        self.recovery_peers.is_empty() || self.recovery_peers.contains(&ip)
    }

    /// The Failover Capability AVP value advertised.
    pub fn capability(&self) -> FailoverCapability {
        FailoverCapability {
            control: self.control,
            data: self.data,
            recovery_time_ms: u32::try_from(self.recovery_time.as_millis()).unwrap_or(u32::MAX),
        }
    }
}

/// The sessions a recovering endpoint asks the peer about in FSQ (RFC 4951).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsureSessions {
    /// Every session of the tunnel.
    All,
    /// These sessions (our Session IDs; ids the tunnel does not have are skipped).
    List(Vec<u16>),
    /// None: no FSQ.
    None,
}

/// A tunnel an endpoint starts with ([`crate::l2tp::Config::restore`]): the identity of an
/// established tunnel and its sessions, without its control-channel state. The minimal restore
/// hook of RFC 4951's failed endpoint, until the LNS replica restores tunnels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredTunnel {
    /// Our Tunnel ID (non-zero).
    pub local_id: u16,
    /// The peer's Tunnel ID (non-zero).
    pub peer_id: u16,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Our address the peer talks to, when known.
    pub local: Option<SocketAddr>,
    /// The Failover Capability the peer advertised when the tunnel was set up.
    pub peer_failover: FailoverCapability,
    /// The established sessions: (our Session ID, the peer's Session ID), both non-zero.
    pub sessions: Vec<(u16, u16)>,
    /// `Some`: start the RFC 4951 recovery at once, asking about these sessions in FSQ.
    pub recover: Option<UnsureSessions>,
}

/// Where a tunnel stands in an RFC 4951 recovery ([`super::Tunnel::recovery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recovery {
    /// Failed endpoint, old tunnel: recovering through recovery tunnel `via`; nothing is sent or
    /// taken on it until then; `query` are the sessions to ask about in FSQ.
    Recovering {
        /// Our Tunnel ID of the recovery tunnel.
        via: u16,
        /// Our Session IDs to query.
        query: Vec<u16>,
        /// Which attempt this is, from 1: a recovery tunnel refused because a newer one of the
        /// peer's overtook it (StopCCN Result 3) is tried again, at most
        /// [`super::MAX_RECOVERY_ATTEMPTS`] times in all.
        attempt: u8,
    },
    /// Non-failed endpoint, old tunnel: a recovery tunnel `via` was accepted for it, its SCCCN
    /// is awaited.
    Answering {
        /// Our Tunnel ID of the recovery tunnel.
        via: u16,
        /// The Suggested Nr given (our next Ns then): what we sent before it and the peer never
        /// acknowledged is dropped when the recovery completes.
        resume_ns: u16,
    },
    /// Non-failed endpoint, old tunnel: the peer stopped answering; kept until `until` (its
    /// Recovery Time) for it to recover.
    Waiting {
        /// When the tunnel goes down unless recovered.
        until: Instant,
    },
    /// This tunnel is the recovery tunnel of the old tunnel `old`.
    RecoveryTunnel {
        /// Our Tunnel ID of the old tunnel.
        old: u16,
        /// Failed endpoint: the SCCCN is sent (its acknowledgement completes the recovery).
        scccn_sent: bool,
    },
}

impl Recovery {
    /// Is this tunnel a recovery tunnel?
    pub fn is_recovery_tunnel(&self) -> bool {
        matches!(self, Recovery::RecoveryTunnel { .. })
    }

    /// Is this the non-failed endpoint's tunnel kept waiting for its peer's recovery
    /// ([`Recovery::Waiting`])?
    pub fn waits(&self) -> bool {
        matches!(self, Recovery::Waiting { .. })
    }

    /// Is this the failed endpoint's old tunnel, held until resumed?
    pub fn holds_old_tunnel(&self) -> bool {
        matches!(self, Recovery::Recovering { .. })
    }
}

/// [`Config::restore`] within range: non-zero distinct Tunnel IDs, non-zero peer Tunnel IDs,
/// non-zero distinct Session IDs per tunnel, within the tunnel and session limits.
pub(crate) fn restore_ok(cfg: &Config) -> bool {
    let mut ids = HashSet::new();
    let mut sessions = 0usize;
    for r in &cfg.restore {
        let mut sids = HashSet::new();
        let sessions_ok = r
            .sessions
            .iter()
            .all(|&(s, p)| s != 0 && p != 0 && sids.insert(s));
        sessions += r.sessions.len();
        if r.local_id == 0
            || r.peer_id == 0
            || !ids.insert(r.local_id)
            || !sessions_ok
            || r.sessions.len() > cfg.max_sessions_per_tunnel
        {
            return false;
        }
    }
    cfg.restore.len() <= cfg.max_tunnels && sessions <= cfg.max_sessions
}
