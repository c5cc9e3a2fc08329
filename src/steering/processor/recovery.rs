//! Restart values (Recovery) seen in steered messages, forwarded to the switch processor's path
//! table (TS 23.007 section 18): a Modify Bearer Request or an Update PDP Context Request goes
//! straight to its session's processor, so the switch processor, which keeps the peers'
//! restart values, would never see a new one it carries.

use super::{Processor, Timer};
use crate::steering::common::Route;
use crate::steering::fabric::{FabricMessage, SessionProtocol};
use std::net::IpAddr;
use std::time::Instant;

/// A `PeerRecovery` awaiting the switch processor's acknowledgement.
#[derive(Debug, Clone, Copy)]
pub(super) struct Forward {
    recovery: u32,
    tries: u32,
}

impl Processor {
    /// The Recovery `value` of a steered `protocol` message naming the session `teid`, from
    /// `route`: forwarded to the switch processor (`PeerRecovery`) under the session's
    /// control-plane peer address (the address the switch processor indexes the session under;
    /// the message's source when no session here has that TEID), repeated every `retransmit`
    /// until acknowledged, at most `max_retries` times. A value already awaiting its
    /// acknowledgement for that peer is not sent again. At most `queue_limit` peers await one;
    /// beyond, not forwarded and counted ([`ProcessorStats::recoveries_full`](super::ProcessorStats::recoveries_full)).
    pub(super) fn note_recovery(
        &mut self,
        now: Instant,
        protocol: SessionProtocol,
        teid: u32,
        route: Route,
        value: u8,
    ) {
        let peer = self
            .sessions
            .get(&teid)
            .or_else(|| self.shadow.get(&teid))
            .filter(|s| s.record.protocol == protocol)
            .map_or(route.peer.ip(), |s| s.record.peer_c);
        let key = (protocol, peer);
        let recovery = u32::from(value);
        match self.recoveries.get(&key) {
            Some(f) if f.recovery == recovery => return,
            None if self.recoveries.len() >= self.config.queue_limit => {
                self.stats.recoveries_full += 1;
                return;
            }
            _ => {}
        }
        self.recoveries.insert(key, Forward { recovery, tries: 1 });
        self.stats.recoveries_forwarded += 1;
        self.send_recovery(now, protocol, peer, recovery);
    }

    fn send_recovery(
        &mut self,
        now: Instant,
        protocol: SessionProtocol,
        peer: IpAddr,
        recovery: u32,
    ) {
        self.send_switch(&FabricMessage::PeerRecovery {
            protocol,
            peer,
            recovery,
        });
        self.timers.arm(
            Timer::Recovery(protocol, peer),
            now + self.config.retransmit,
        );
    }

    /// A `PeerRecovery` not yet acknowledged: repeated, or given up after `max_retries`.
    pub(super) fn retry_recovery(&mut self, now: Instant, protocol: SessionProtocol, peer: IpAddr) {
        let key = (protocol, peer);
        let Some(f) = self.recoveries.get_mut(&key) else {
            return;
        };
        if f.tries >= self.config.max_retries.max(1) {
            self.recoveries.remove(&key);
            self.stats.recoveries_unacked += 1;
            return;
        }
        f.tries += 1;
        let recovery = f.recovery;
        self.send_recovery(now, protocol, peer, recovery);
    }

    /// The switch processor took the `PeerRecovery` with these fields.
    pub(super) fn handle_recovery_ack(
        &mut self,
        protocol: SessionProtocol,
        peer: IpAddr,
        recovery: u32,
    ) {
        let key = (protocol, peer);
        if self
            .recoveries
            .get(&key)
            .is_some_and(|f| f.recovery == recovery)
        {
            self.recoveries.remove(&key);
            self.timers.disarm(&Timer::Recovery(protocol, peer));
        }
    }
}
