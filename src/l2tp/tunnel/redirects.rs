//! A contact LNS's redirect records (claim 4; memory per tunnel): the Session ID an ICRP with
//! `RedirectTarget` assigned stays ours until the LAC's CDN frees it or the redirect hold ends.
//! A record is eight bytes in its tunnel's session table ([`Sessions::hold`](super::super::session::Sessions::hold)), not a session:
//! no session record, no timer in the [`TimerQueue`](crate::TimerQueue). Every record is held
//! for the same time, so their deadlines come in the order they were made: one queue of
//! expiries, its front the next. A record freed by CDN leaves its entry behind, skipped when it
//! comes due (the record's number no longer matches); the queue is pruned of such entries when
//! it holds more than twice the records (and 64), so its length stays within a constant factor
//! of the records held, each entry pruned once. The entry of a record freed by CDN before any
//! other record was made (the usual case: the LAC answers the ICRP at once) is the queue's last,
//! and goes with the record.

use super::Core;
use std::time::Instant;

/// Entries the expiry queue may hold beyond twice the records before it is pruned.
const SLACK: usize = 64;

impl Core {
    /// Holds a redirect record on tunnel `tid` for the LAC's session `peer` (its ICRQ's
    /// Assigned Session ID, 0 when none) until `expires`, under a fresh Session ID (neither a
    /// session's nor another record's: [`Sessions::id_taken`](super::super::session::Sessions::id_taken)); that id, or `None` when the
    /// tunnel is unknown or has no id left. The record counts in `session_count` (as the
    /// session it was before) and in `redirects_held`.
    pub fn hold_redirect(&mut self, tid: u16, peer: u16, expires: Instant) -> Option<u16> {
        // One look-up of the tunnel for the check, the id and the record.
        let t = self.tunnels.get_mut(&tid)?;
        if t.sessions.len() + t.sessions.held_len() >= usize::from(u16::MAX) - 1 {
            return None;
        }
        // What `alloc_session_id(tid, false)` draws: unbounded (the LNS bounds the records).
        let sid = super::free_id(&mut self.rng, &t.sessions)?;
        let seq = self.redirect_seq;
        self.redirect_seq = seq.wrapping_add(1);
        t.sessions.hold(sid, peer, seq);
        self.redirects_held += 1;
        self.session_count += 1;
        if self.redirect_expiry.len() >= 2 * self.redirects_held + SLACK {
            self.prune_expiries();
        }
        self.redirect_expiry.push_back((expires, tid, sid, seq));
        Some(sid)
    }

    /// Frees tunnel `tid`'s redirect record of our Session ID `sid`, or (`sid` 0) the one made
    /// for the LAC's session `peer` (a CDN's header Session ID and Assigned Session ID, RFC
    /// 2661 3.1, 6.12); `false` when there is none.
    pub fn release_redirect(&mut self, tid: u16, sid: u16, peer: u16) -> bool {
        let Some((sid, seq)) = self
            .tunnels
            .get_mut(&tid)
            .and_then(|t| t.sessions.take_held(sid, peer))
        else {
            return false;
        };
        self.redirects_held = self.redirects_held.saturating_sub(1);
        self.session_count = self.session_count.saturating_sub(1);
        // The LAC's CDN follows the ICRP as a rule before any other record is made: the freed
        // record's expiry entry is the last one, dropped now rather than left for a prune (at a
        // million sessions, a prune's look-ups of the tunnels, their records' lists and
        // buffers are cache misses; module docs).
        if self
            .redirect_expiry
            .back()
            .is_some_and(|&(_, t, s, q)| (t, s, q) == (tid, sid, seq))
        {
            self.redirect_expiry.pop_back();
        }
        true
    }

    /// Forgets `n` redirect records a tunnel's session table let go
    /// ([`Sessions::release_all`](super::super::session::Sessions::release_all): its tunnel closed or removed).
    pub(super) fn forget_held(&mut self, n: usize) {
        self.redirects_held = self.redirects_held.saturating_sub(n);
        self.session_count = self.session_count.saturating_sub(n);
    }

    /// Frees the redirect records whose hold ended by `now`.
    pub(super) fn expire_redirects(&mut self, now: Instant) {
        while let Some(&(at, tid, sid, seq)) = self.redirect_expiry.front() {
            if at > now {
                break;
            }
            self.redirect_expiry.pop_front();
            let live = self
                .tunnels
                .get(&tid)
                .is_some_and(|t| t.sessions.holds(sid, seq));
            if live {
                self.release_redirect(tid, sid, 0);
            }
        }
    }

    /// Expiry entries queued (records held, and those of records freed that are still queued).
    #[cfg(test)]
    pub(crate) fn redirect_expiries(&self) -> usize {
        self.redirect_expiry.len()
    }

    /// Drops the expiry entries of records freed already.
    fn prune_expiries(&mut self) {
        let tunnels = &self.tunnels;
        self.redirect_expiry.retain(|&(_, tid, sid, seq)| {
            tunnels
                .get(&tid)
                .is_some_and(|t| t.sessions.holds(sid, seq))
        });
    }
}
