//! The tunnel's timers: retransmission (RFC 2661 5.8), HELLO (5.5, 6.5), the hold period after
//! StopCCN (5.7) and the LAC's idle-tunnel close.

use super::super::wire::{ControlMessage, ResultCode, ResultCodeValue};
use super::{Core, Timer, TunnelState, Up};
use std::time::Instant;

impl Core {
    /// Lets due timers fire.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_redirects(now);
        while let Some((key, _)) = self.timers.pop_expired(now) {
            match key {
                Timer::Tunnel(tid) => self.on_tunnel_timer(now, tid),
                Timer::Hold(tid) => self.on_hold_timer(now, tid),
                Timer::Idle(tid) => self.on_idle_timer(now, tid),
                Timer::Session(tid, sid) => self.ups.push_back(Up::SessionTimer(tid, sid)),
                Timer::Recovery(tid) => self.on_recovery_timer(now, tid),
            }
        }
    }

    /// The tunnel's timer ([`Timer::Tunnel`]): its channel's retransmission or deferred
    /// acknowledgement if due (RFC 2661 5.8), then HELLO if due; the timer is re-armed at the
    /// earlier of what remains.
    fn on_tunnel_timer(&mut self, now: Instant, tid: u16) {
        let dead = match self.tunnels.get_mut(&tid) {
            Some(t) => {
                t.channel.timer_fired();
                t.channel.handle_timeout(now).is_err()
            }
            None => return,
        };
        if dead {
            self.channel_dead(now, tid);
        } else {
            // Sends what the channel retransmits and re-arms at its deadline, if any.
            self.flush(now, tid);
        }
        self.on_hello_timer(now, tid);
    }

    /// RFC 2661 5.5, 6.5: HELLO once `hello_interval` passed without any message from the peer
    /// (none while closing).
    fn on_hello_timer(&mut self, now: Instant, tid: u16) {
        let Some((state, peer_id, last_rx)) = self
            .tunnels
            .get(&tid)
            .map(|t| (t.state, t.peer_header_id(), t.last_rx))
        else {
            return;
        };
        if state == TunnelState::Closing {
            return;
        }
        let due = last_rx + self.cfg.hello_interval;
        if due > now {
            // Heard from the peer since HELLO was last armed.
            self.arm_tunnel_timer(tid, due);
            return;
        }
        if state == TunnelState::Established {
            self.send_ctrl(now, tid, ControlMessage::hello(peer_id));
        }
        self.arm_hello(now, tid);
    }

    /// End of the hold period (RFC 2661 5.7). The sender of a StopCCN keeps the tunnel until the
    /// StopCCN is acknowledged (or its retransmissions run out and the channel is declared dead).
    fn on_hold_timer(&mut self, now: Instant, tid: u16) {
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

    /// An established tunnel without sessions for the idle timeout: StopCCN Result 1.
    fn on_idle_timer(&mut self, now: Instant, tid: u16) {
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        if t.state != TunnelState::Established || !t.sessions.is_empty() {
            return;
        }
        if !t.channel.is_idle() {
            // A CDN (or other message) is still unacknowledged: close only once the channel is
            // quiet, so the StopCCN does not queue behind it; a dead channel ends the tunnel anyway.
            if let Some(d) = self.idle_timeout {
                self.timers.arm(Timer::Idle(tid), now + d);
            }
            return;
        }
        let rc = ResultCode::new(ResultCodeValue::STOPCCN_GENERAL_REQUEST);
        self.close_tunnel(now, tid, rc);
    }
}
