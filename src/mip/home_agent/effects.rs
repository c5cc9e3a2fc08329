//! The orchestrator's side of the sub-machines: it lends them a read-only view of the table and
//! health and applies the effects they return, in order, in one place.

use super::takeover::{Effect, View};
use super::tunnel::{self, Report};
use super::*;
use crate::health::Monitor;

impl HomeAgent {
    /// Runs one takeover step against a read-only [`View`], then applies its effects. `step`
    /// returns the effects and a result for the caller.
    fn takeover_step<R>(
        &mut self,
        now: Instant,
        step: impl FnOnce(&mut Takeovers, &View<'_>) -> (Vec<Effect>, R),
    ) -> R {
        let (node, monitor) = (self.node, &self.monitor);
        let health = |n: NodeId| state_of(monitor, node, n);
        let view = View {
            node,
            table: &self.table,
            members: &self.members,
            windows: &self.windows,
            health: &health,
        };
        let (effects, r) = step(&mut self.takeover, &view);
        self.apply_effects(now, effects);
        r
    }

    /// Applies the effects of a sub-machine, in order.
    pub(super) fn apply_effects(&mut self, now: Instant, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Enqueue(peer, item) => self.enqueue(peer, item),
                Effect::Repoint {
                    slots,
                    failed,
                    owner,
                } => {
                    // What changed before is not the takeover's to report.
                    self.report_tunnels(Report::Moved);
                    for &s in &slots {
                        let _ = self.table.update(s, |b| {
                            b.second_ha = owner;
                            if b.first_ha == failed {
                                b.first_ha = owner;
                            }
                            if b.pending().is_some_and(|p| p.second_ha == failed) {
                                b.set_pending(None);
                            }
                        });
                    }
                    // As the table reports them: the tunnels of the bindings this HA serves now
                    // (it is the owner), for the takeover's `Event::TakenOver`; those of the
                    // bindings it served and no longer does (the owner of a decision that lost,
                    // split-brain resolution), `Event::Deregistered` (RFC 5944 section 3.8.3;
                    // the owner installs its own).
                    self.report_tunnels(Report::Takeover);
                    // What this HA takes over but cannot serve is revoked (RFC 3543), after
                    // the grace a false Down needs to be seen for what it is.
                    if owner == self.node {
                        self.revoke_unservable_after_grace(now, &slots, failed);
                    }
                }
                Effect::Restore { slots, server } => {
                    for s in slots {
                        let _ = self.table.update(s, |b| b.second_ha = server);
                    }
                }
                Effect::MarkSeen { peer, slots } => {
                    if let Some(ch) = self.channels.get_mut(&peer) {
                        ch.mark_seen(&slots);
                    }
                }
                Effect::ReplicateOwn(s) => self.replicate_slot(s, now),
                Effect::Handover(s) => self.replicate_record(s, now),
                Effect::Pump => self.pump(now),
                Effect::Event(Event::TakenOver {
                    failed,
                    owner,
                    bindings,
                    ..
                }) => {
                    let tunnels = self.taken.drain(..).map(|(t, _)| t).collect();
                    self.push_event(Event::TakenOver {
                        failed,
                        owner,
                        bindings,
                        tunnels,
                    });
                }
                Effect::Event(e) => self.push_event(e),
            }
        }
        // Tunnels a takeover step added without its event (none: a step that moves bindings
        // reports the takeover): each its own `Event::Registered`.
        for (tunnel, expires) in std::mem::take(&mut self.taken) {
            self.push_event(Event::Registered {
                home_address: tunnel.home_address,
                care_of: tunnel.care_of,
                lifetime: tunnel::lifetime_left(now, expires),
                tunnel,
                refresh: false,
            });
        }
    }

    /// `node` is alive (health says Up): see [`Takeovers::forget`].
    pub(super) fn forget_takeover(&mut self, node: NodeId) {
        // Restoring servers queues nothing, so the time is not read.
        let now = self.start;
        self.takeover_step(now, |t, v| (t.forget(v, node), ()));
    }

    /// A decision received in a replica from `sender`, or taken here (`sender` `None`).
    pub(super) fn take_over(
        &mut self,
        now: Instant,
        failed: NodeId,
        owner: NodeId,
        coordinator: NodeId,
        sender: Option<NodeId>,
    ) {
        self.takeover_step(now, |t, v| {
            (t.decide(v, now, failed, owner, coordinator, sender), ())
        });
    }

    /// `failed` is Down (health): a deferred decision applies, or this HA coordinates when it is
    /// the lowest live backup, selecting the owner among the candidates by load.
    pub(super) fn on_down(&mut self, now: Instant, failed: NodeId) {
        let candidates = self.takeover_step(now, |t, v| t.on_down(v, now, failed));
        let Some(candidates) = candidates else {
            return;
        };
        let owner = self
            .monitor
            .select(Policy::LeastLoaded, &mut self.rng, |n| {
                candidates.contains(&n)
            })
            .unwrap_or(self.node);
        self.takeover_step(now, |t, v| (t.coordinate(v, now, failed, owner), ()));
    }

    /// `sender` begins a bulk sync: see [`Takeovers::sync_begun`].
    pub(super) fn takeover_sync_begun(&mut self, now: Instant, sender: NodeId) {
        self.takeover_step(now, |t, v| (t.sync_begun(v, sender), ()));
    }
}

/// A member's health as `node` sees it (itself always Up).
pub(super) fn state_of(monitor: &Monitor, node: NodeId, peer: NodeId) -> NodeState {
    if peer == node {
        return NodeState::Up;
    }
    monitor.state(peer).unwrap_or(NodeState::Down)
}
