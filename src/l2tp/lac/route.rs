//! Where a LAC call goes next: a redirect (the vendor `RedirectTarget`, Result 2 / Error 9 or
//! Error 7), the next endpoint of its plan (with the failed LNS on the deny-list), or the end of
//! the call.

use super::{CallId, CallState, DenyReason, Lac, plan};
use crate::l2tp::Event;
use crate::l2tp::tunnel::TunnelSecret;
use crate::l2tp::wire::{ErrorCode, ResultCode, ResultCodeValue};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

impl Lac {
    pub(super) fn fail_call(&mut self, id: CallId, result: Option<ResultCode<'static>>) {
        if let Some(c) = self.calls.remove(&id) {
            self.core.session_down(c.state.session(), Some(id), result);
        }
    }

    /// A call not yet established lost its endpoint: a call without a plan fails with `result`;
    /// a plan call puts the endpoint on the deny-list when `deny` gives a reason
    /// ([`Event::LnsDenied`]) and goes to the plan's next one.
    pub(super) fn call_failed(
        &mut self,
        now: Instant,
        id: CallId,
        result: Option<ResultCode<'static>>,
        deny: Option<DenyReason>,
    ) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.plan.is_none() {
            self.fail_call(id, result);
            return;
        }
        if let Some(reason) = deny {
            let (lns, until) = (c.lns.ip(), now + self.cfg.deny_time);
            let stats = &mut self.core.stats;
            stats.lns_denied = stats.lns_denied.saturating_add(1);
            if self.deny.deny(lns, until, now, self.cfg.max_denied) {
                stats.deny_list_evictions = stats.deny_list_evictions.saturating_add(1);
            }
            if self.cfg.max_denied > 0 {
                self.core.event(Event::LnsDenied { lns, until, reason });
            }
        }
        self.plan_step(now, id, result);
    }

    /// Starts plan call `id` at its plan's next endpoint ([`plan::choose`]), or fails it with
    /// `result` when none is left.
    pub(super) fn plan_step(
        &mut self,
        now: Instant,
        id: CallId,
        result: Option<ResultCode<'static>>,
    ) {
        let mut held: BTreeMap<(IpAddr, Option<&[u8]>), u32> = BTreeMap::new();
        for (cid, c) in &self.calls {
            if *cid != id && c.state != CallState::Idle {
                *held
                    .entry((c.lns.ip(), c.assignment.as_deref()))
                    .or_default() += 1;
            }
        }
        let Some(cursor) = self.calls.get(&id).and_then(|c| c.plan.as_ref()) else {
            return;
        };
        let deny = &self.deny;
        let pick = plan::choose(
            cursor,
            self.cfg.plan_policy,
            &mut self.core.rng,
            |ip| deny.is_denied(ip, now),
            |e| {
                held.get(&(e.server.ip(), e.assignment_id.as_deref()))
                    .copied()
                    .unwrap_or(0)
            },
        );
        let Some(i) = pick else {
            self.fail_call(id, result);
            return;
        };
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(cursor) = c.plan.as_mut() else {
            return;
        };
        cursor.tried |= 1 << i;
        let e = &cursor.plan.endpoints()[i];
        c.lns = e.server;
        c.local = e.client;
        c.assignment.clone_from(&e.assignment_id);
        c.secret = e.password.clone().map(TunnelSecret::new);
        c.hops = 0;
        c.state = CallState::Idle;
        // The call goes on: a cause the refusing CDN carried is no later SessionDown's.
        self.core.cdn_cause = None;
        self.start_call(now, id);
    }

    pub(super) fn redirect(
        &mut self,
        now: Instant,
        id: CallId,
        to: IpAddr,
        result: Option<ResultCode<'static>>,
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let from = c.lns.ip();
        if !c.visited.contains(&from) {
            c.visited.push(from);
        }
        if c.hops >= self.cfg.max_redirects || c.visited.contains(&to) {
            self.call_failed(now, id, result, None);
            return;
        }
        c.hops += 1;
        c.lns = SocketAddr::new(to, c.lns.port());
        self.core.cdn_cause = None;
        c.state = CallState::Idle;
        self.core.event(Event::Redirected { call: id, from, to });
        self.start_call(now, id);
    }

    /// Where a refusal points: the vendor target, the first unvisited address of an Error 9 list,
    /// or the next unvisited alternate for Error 7. Addresses a call cannot be sent to are
    /// passed over ([`redirectable`]): a vendor target naming one counts as absent.
    pub(super) fn redirect_target(
        &self,
        id: CallId,
        vendor: Option<IpAddr>,
        result: Option<&ResultCode<'_>>,
    ) -> Option<IpAddr> {
        let c = self.calls.get(&id)?;
        let seen = |a: &IpAddr| c.visited.contains(a) || *a == c.lns.ip();
        if let Some(v) = vendor.filter(redirectable) {
            return Some(v);
        }
        let r = result?;
        if r.result != ResultCodeValue(2) {
            return None;
        }
        match r.error_code()? {
            ErrorCode::TRY_ANOTHER_DIRECTED => r
                .directed_addresses()?
                .into_iter()
                .find(|a| redirectable(a) && !seen(a)),
            // A plan call's alternates are its plan's next entries.
            ErrorCode::TRY_ANOTHER if c.plan.is_none() => self
                .cfg
                .alternates
                .iter()
                .map(|a| a.ip())
                .find(|a| !seen(a)),
            _ => None,
        }
    }

    /// The calls on a closed tunnel: redirected where the StopCCN points (a refusal of a tunnel
    /// in set-up), started again when the tunnel died or lost a tie before they were up, failed
    /// otherwise.
    pub(super) fn on_tunnel_closed(
        &mut self,
        now: Instant,
        tunnel: u16,
        was_setup: bool,
        result: Option<ResultCode<'static>>,
        redirect: Option<IpAddr>,
    ) {
        let affected: Vec<(CallId, bool)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.state.tunnel() == Some(tunnel))
            .map(|(id, c)| (*id, matches!(c.state, CallState::Established(_))))
            .collect();
        for (id, up) in affected {
            let target = if was_setup && !up {
                self.redirect_target(id, redirect, result.as_ref())
            } else {
                None
            };
            let has_plan = self.calls.get(&id).is_some_and(|c| c.plan.is_some());
            match target {
                Some(to) => self.redirect(now, id, to, result.clone()),
                // A plan call not yet up: the LNS timed out or sent StopCCN.
                None if has_plan && !up => {
                    let reason = DenyReason::of_stopccn(result.as_ref());
                    self.call_failed(now, id, result.clone(), Some(reason));
                }
                None if result.is_none() && redirect.is_none() && !up => {
                    // Lost a tie breaker, or the tunnel died before the call was up (a failed
                    // LNS behind a virtual address): start again.
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.hops = c.hops.saturating_add(1);
                        if c.hops > self.cfg.max_redirects {
                            self.fail_call(id, None);
                            continue;
                        }
                    }
                    self.start_call(now, id);
                }
                None => self.fail_call(id, result.clone()),
            }
        }
    }
}

/// Whether a redirect received from an LNS (`RedirectTarget`, an Error 9 address list) names an
/// address a call can go to: a unicast one. The unspecified address MUST NOT be a destination
/// (RFC 1122 3.2.1.3 (a); `::`, RFC 4291 2.5.2), nor may a broadcast or multicast one carry a
/// control connection (RFC 2661 names one peer per tunnel). Others are passed over, as a
/// configured unspecified LNS address is refused ([`crate::l2tp::ConfigError::UnusableAddress`]).
pub(super) fn redirectable(a: &IpAddr) -> bool {
    !a.is_unspecified() && !a.is_multicast() && !matches!(a, IpAddr::V4(v4) if v4.is_broadcast())
}
