//! Path management: the gateway's peers, their restarts and their path failures.
//!
//! The switch processor owns the node-level messages, so it keeps the gateway's paths: one per
//! control-plane peer it has sessions or an association with, named by a [`PeerId`] (the
//! protocol and the peer's control-plane IP address, the address a session record's `peer_c`
//! holds: the SGSN Address for signalling, the sender F-TEID's, the CP F-SEID's, else the
//! source address; TS 23.007 section 18).
//!
//! * **Echo** (TS 29.060 section 7.2.1, TS 29.274 section 7.1.1, TS 29.244 sections 6.2.2 and
//!   7.4.2.1): every `echo_interval` an Echo Request (GTPv1-C, GTPv2-C with the Recovery IE) or
//!   a Heartbeat Request (PFCP, with the Recovery Time Stamp) goes to the peer's control port
//!   (2123, 8805) from the gateway address the peer talked to. Unanswered, it is repeated every
//!   `t3` (T3-RESPONSE) up to `n3` times (N3-REQUESTS) in all; then the path has failed
//!   (TS 23.007 section 20): [`SwitchEvent::PathFailure`](super::SwitchEvent::PathFailure),
//!   and per [`PathFailureAction`] the peer's sessions are kept (the default: TS 23.007 leaves
//!   them to the restart procedure) or purged. Echoes go on every `echo_interval`; the first
//!   answer after a failure is reported with
//!   [`SwitchEvent::PathRestored`](super::SwitchEvent::PathRestored). A peer with neither
//!   sessions nor an association is forgotten at its next echo.
//! * **Restart** (TS 23.007 sections 18 and 19A): the first Recovery (restart counter) or
//!   Recovery Time Stamp seen from a peer is stored; a later value that is newer (larger,
//!   taking the roll-over into account: serial number arithmetic over 8 bits for the restart
//!   counter, 32 for the time stamp, [`is_newer`]) means the peer restarted: the new value
//!   replaces the stored one, and every session the gateway holds with that peer is purged on
//!   every processor ([`SwitchEvent::PeerRestarted`](super::SwitchEvent::PeerRestarted) with
//!   their count). An older value is a late message of the old incarnation and is discarded
//!   (section 18: a race). Values are taken from Echo and Heartbeat Responses answering our
//!   request (same sequence number, so an off-path sender must guess it), and from every
//!   request the switch processor receives carrying one: Echo Requests (GTPv2-C), Create PDP
//!   Context and Create Session Requests, Heartbeat and Association Setup Requests (TS 29.244
//!   section 6.2.6.2.2: a new Recovery Time Stamp in an Association Setup Request of an
//!   associated CP function).
//! * **GTP-U paths** (TS 29.281 sections 7.2.1 and 7.2.2, TS 23.007 section 20): each session's
//!   user-plane peer (the address its peer F-TEID names: an eNodeB, gNB, SGSN or SGW-U, the
//!   record's `peer_u`, learnt from every sync) is a [`PathProtocol::Gtpu`] peer while a
//!   session uses it. It gets GTP-U Echo Requests (port 2152, no Recovery IE) on the same
//!   `echo_interval`, `t3` and `n3`, from the gateway address its control-plane peer talked to,
//!   and its path fails and is restored as above, with the same [`PathFailureAction`]. The
//!   Recovery of a GTP-U Echo Response is set to 0 by the sender and ignored by the receiver
//!   (section 7.2.2): it never makes a restart. A peer's GTP-U Echo Request is answered with
//!   Recovery 0.
//! * **Restart values in steered messages**: a Modify Bearer Request (TS 29.274 section 7.2.7)
//!   or an Update PDP Context Request (TS 29.060 section 7.3.3) carries a Recovery when the peer
//!   contacts the gateway for the first time, after its restart say, but it is steered by its
//!   TEID straight to a processor. The processor forwards the value to the switch processor
//!   (`PeerRecovery`, repeated until acknowledged), which compares it as its own: the same
//!   restart, purge and event. PFCP session messages carry no Recovery Time Stamp (TS 29.244
//!   section 7.5): a CP function's restart is seen in its Heartbeat and Association Setup
//!   Requests only.
//! * **Purge**: the sessions go in batches of `purge_batch` TEIDs, one batch per
//!   `handle_timeout` call (the switch processor's `poll_timeout` says when: at once), each a
//!   fabric `Purge` to every processor holding a VID, repeated every `retransmit` until each
//!   acknowledges it (or is no longer up), so the work per call stays bounded whatever the
//!   number of sessions. Sessions the peer sets up after its restart are not purged: the batch
//!   names only the TEIDs held when the restart was seen.
//!
//! # Bounds
//!
//! * Peers: `max_peers`, control-plane and user-plane together; a peer beyond is not tracked
//!   (no echo, no restart detection), counted in
//!   [`SwitchStats::peers_full`](super::switch::SwitchStats::peers_full).
//! * Purge batches in flight: [`MAX_PURGES_IN_FLIGHT`]; beyond, the next batch waits for an
//!   acknowledgement.

use super::fabric::SessionProtocol;
use super::gtp::{GTP_C_PORT, GTP_U_PORT};
use super::pfcp::PFCP_PORT;
use std::net::IpAddr;
use std::time::Duration;

/// Most purge batches awaiting acknowledgements at once.
pub const MAX_PURGES_IN_FLIGHT: usize = 16;

/// What to do with a peer's sessions when its path fails (no answer to `n3` Echo Requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PathFailureAction {
    /// Keep them (TS 23.007 section 20: a path failure alone does not say the peer lost its
    /// state; a restart, once it answers, does). The default.
    #[default]
    Keep,
    /// Purge them as for a restart.
    Purge,
}

/// Configuration of path management at the switch processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathConfig {
    /// Interval between Echo (Heartbeat) Requests to a peer. On a GTP path (GTPv1-C, GTPv2-C,
    /// GTP-U) the interval used is at least [`min_echo_interval`](Self::min_echo_interval)
    /// (see [`PathConfig::interval`]); PFCP heartbeats (TS 29.244 section 6.2.2) go every
    /// `echo_interval`. `Duration::ZERO` disables echoes (restarts are still detected from the
    /// requests received).
    pub echo_interval: Duration,
    /// The shortest interval between two Echo Requests on one GTP path: TS 29.060 section 7.2.1,
    /// TS 29.274 section 7.2.1 and TS 29.281 section 7.2.1 say an Echo Request shall not be sent
    /// more often than every 60 s on a path (the default). Repeats of one request after T3
    /// (same sequence number) are not new requests. Lowering it departs from those sections:
    /// for simulations and labs only.
    pub min_echo_interval: Duration,
    /// T3-RESPONSE: how long an Echo Request waits for its response before it is repeated.
    pub t3: Duration,
    /// N3-REQUESTS: Echo Requests sent in all (the first and its repeats) before the path is
    /// declared failed; at least 1.
    pub n3: u32,
    /// Most peers tracked.
    pub max_peers: usize,
    /// What a path failure does to the peer's sessions.
    pub on_failure: PathFailureAction,
    /// TEIDs per purge batch (a fabric `Purge`), 1 to 4096 (values outside are clamped).
    pub purge_batch: usize,
}

impl Default for PathConfig {
    /// Echo every 60 s (and never more often on a GTP path), T3 3 s, N3 3, 1024 peers, sessions
    /// kept on path failure, purge batches of 256.
    fn default() -> Self {
        PathConfig {
            echo_interval: Duration::from_secs(60),
            min_echo_interval: MIN_ECHO_INTERVAL,
            t3: Duration::from_secs(3),
            n3: 3,
            max_peers: 1024,
            on_failure: PathFailureAction::Keep,
            purge_batch: 256,
        }
    }
}

/// The shortest interval between two Echo Requests on a GTP path, 60 s (TS 29.060 section
/// 7.2.1, TS 29.274 section 7.2.1, TS 29.281 section 7.2.1).
pub const MIN_ECHO_INTERVAL: Duration = Duration::from_secs(60);

impl PathConfig {
    /// The interval between Echo (Heartbeat) Requests on a path of `protocol`:
    /// `echo_interval` for PFCP; for GTPv1-C, GTPv2-C and GTP-U `echo_interval` raised to
    /// `min_echo_interval`. `Duration::ZERO` (echoes disabled) stays zero.
    pub fn interval(&self, protocol: PathProtocol) -> Duration {
        if self.echo_interval.is_zero() || protocol == PathProtocol::Pfcp {
            self.echo_interval
        } else {
            self.echo_interval.max(self.min_echo_interval)
        }
    }
}

/// The protocol of a path, which says its port, its echo messages and its restart value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PathProtocol {
    /// GTPv1-C (TS 29.060): Echo Request / Response, Recovery (8-bit restart counter).
    Gtpv1,
    /// GTPv2-C (TS 29.274): Echo Request / Response, Recovery (8-bit restart counter).
    Gtpv2,
    /// PFCP (TS 29.244): Heartbeat Request / Response, Recovery Time Stamp (32-bit).
    Pfcp,
    /// GTP-U (TS 29.281): Echo Request / Response to a user-plane peer (an eNodeB, gNB, SGSN
    /// or SGW-U address learnt from the sessions' F-TEIDs). Its Recovery is sent as 0 and
    /// ignored on receipt (section 7.2.2), so a GTP-U path detects failures, never restarts.
    Gtpu,
}

impl PathProtocol {
    /// The peer's port for echoes: 2123 (GTP-C), 8805 (PFCP), 2152 (GTP-U).
    pub fn port(self) -> u16 {
        match self {
            PathProtocol::Gtpv1 | PathProtocol::Gtpv2 => GTP_C_PORT,
            PathProtocol::Pfcp => PFCP_PORT,
            PathProtocol::Gtpu => GTP_U_PORT,
        }
    }

    /// Bits of the restart value: 8 (Recovery), 32 (Recovery Time Stamp). GTP-U's 8-bit
    /// Recovery is never compared (TS 29.281 section 7.2.2).
    pub fn recovery_bits(self) -> u32 {
        match self {
            PathProtocol::Gtpv1 | PathProtocol::Gtpv2 | PathProtocol::Gtpu => 8,
            PathProtocol::Pfcp => 32,
        }
    }

    /// Bits of the sequence number: 16 (GTPv1-C, GTP-U), 24 (GTPv2-C, PFCP).
    pub fn sequence_bits(self) -> u32 {
        match self {
            PathProtocol::Gtpv1 | PathProtocol::Gtpu => 16,
            PathProtocol::Gtpv2 | PathProtocol::Pfcp => 24,
        }
    }
}

impl From<SessionProtocol> for PathProtocol {
    fn from(p: SessionProtocol) -> Self {
        match p {
            SessionProtocol::Gtpv1 => PathProtocol::Gtpv1,
            SessionProtocol::Gtpv2 => PathProtocol::Gtpv2,
            SessionProtocol::Pfcp => PathProtocol::Pfcp,
        }
    }
}

/// A peer of the gateway: the protocol and its control-plane IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    /// The protocol.
    pub protocol: PathProtocol,
    /// The peer's control-plane address.
    pub addr: IpAddr,
}

/// Whether the restart value `received` is newer than `stored` for `protocol`: serial number
/// arithmetic over [`PathProtocol::recovery_bits`] (TS 23.007 sections 18 and 19A: larger,
/// taking the roll-over into account). Equal is not newer; a value exactly half the space away
/// is not newer either.
pub fn is_newer(protocol: PathProtocol, received: u32, stored: u32) -> bool {
    let bits = protocol.recovery_bits();
    let mask = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let d = received.wrapping_sub(stored) & mask;
    d != 0 && d < (1u32 << (bits - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_counter_rolls_over() {
        let v1 = PathProtocol::Gtpv1;
        assert!(is_newer(v1, 6, 5));
        assert!(!is_newer(v1, 5, 5));
        assert!(!is_newer(v1, 4, 5));
        assert!(is_newer(v1, 0, 255));
        assert!(is_newer(v1, 3, 250));
        assert!(!is_newer(v1, 250, 3));
        assert!(!is_newer(v1, 133, 5), "half the space away is not newer");
    }

    #[test]
    fn time_stamp_is_32_bits() {
        let p = PathProtocol::Pfcp;
        assert!(is_newer(p, 3_900_000_001, 3_900_000_000));
        assert!(!is_newer(p, 3_899_999_999, 3_900_000_000));
        assert!(is_newer(p, 5, u32::MAX - 5));
        assert!(is_newer(p, 300, 200), "not compared over 8 bits");
    }
}
