//! Placement of new sessions ([`Placement`]): by health's policy over the reported loads,
//! weighted least-connections, or least load trend, among the processors whose VID every line
//! interface already steers to them.

use super::{Placement, SwitchProcessor, vids};
use crate::health::NodeId;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most load reports kept per processor for the trend.
const MAX_SAMPLES: usize = 64;

/// The processors' recent load reports (percent), for [`Placement::LeastLoadTrend`].
#[derive(Debug, Default)]
pub(super) struct Trends {
    samples: HashMap<NodeId, VecDeque<(Instant, u8)>>,
}

impl Trends {
    /// The slope of `slot`'s reports in the window, in thousandths of a percent per second.
    fn slope(&self, slot: NodeId) -> i64 {
        let Some(s) = self.samples.get(&slot) else {
            return 0;
        };
        let (Some(&(t0, p0)), Some(&(t1, p1))) = (s.front(), s.back()) else {
            return 0;
        };
        let ms = i64::try_from(t1.duration_since(t0).as_millis()).unwrap_or(i64::MAX);
        if ms == 0 {
            return 0;
        }
        (i64::from(p1) - i64::from(p0)) * 1_000_000 / ms
    }

    fn record(&mut self, now: Instant, slot: NodeId, percent: u8, window: Duration) {
        let s = self.samples.entry(slot).or_default();
        s.push_back((now, percent));
        while s.len() > MAX_SAMPLES || s.front().is_some_and(|(t, _)| *t + window < now) {
            s.pop_front();
        }
    }
}

impl SwitchProcessor {
    /// A heartbeat from `from` was taken: with the trend placement, its load is sampled.
    pub(super) fn record_load(&mut self, now: Instant, from: SocketAddr) {
        let Placement::LeastLoadTrend { window } = self.config.placement else {
            return;
        };
        let Some(&slot) = self.by_addr.get(&from) else {
            return;
        };
        if let Some(load) = self.monitor.load(slot) {
            self.trends.record(now, slot, load.percent, window);
        }
    }

    /// The load-trend slope of `slot` (thousandths of a percent per second), for tests and
    /// operators.
    pub fn load_trend(&self, slot: NodeId) -> i64 {
        self.trends.slope(slot)
    }

    /// The eligible processors other than `exclude`, by ascending slot id: holding a VID, Up
    /// (and not set Down by the caller), not overloaded and below capacity, and with `tables`,
    /// their VID Up in a table version every line interface has acknowledged (silent ones
    /// aside, see [`SwitchConfig::line_ack_timeout`](super::SwitchConfig::line_ack_timeout)):
    /// a processor whose VID some line interface does not yet hold would allocate identifiers
    /// that line interface drops as unknown (and answers with an Error Indication or
    /// Non-existent, deleting the session at the peer); a backup is chosen by the same rule,
    /// since failover steers to it by the same tables.
    pub(super) fn eligible_by(&self, exclude: Option<NodeId>, tables: bool) -> Vec<NodeId> {
        let acked = self.acked_by_lines();
        let mut v: Vec<NodeId> = self
            .slots
            .iter()
            .filter(|(id, s)| {
                **id != self.config.node
                    && Some(**id) != exclude
                    && s.vid.is_some()
                    && !s.set_down
                    && (!tables || vids::named_up(&self.up_since, s, acked))
                    && self.monitor.is_eligible(**id)
                    && self.monitor.load(**id).is_some_and(|l| l.used < l.capacity)
            })
            .map(|(id, _)| *id)
            .collect();
        v.sort_unstable();
        v
    }

    /// [`SwitchProcessor::eligible_by`] with the tables' rule: the processors a session may be
    /// placed on.
    pub(super) fn eligible(&self, exclude: Option<NodeId>) -> Vec<NodeId> {
        self.eligible_by(exclude, true)
    }

    /// Chooses the processor for a new session (or its backup, `exclude` being the primary)
    /// among the [eligible](SwitchProcessor::eligible) ones (for [`Placement::Load`], health's
    /// selection with the same filter), by `placement`; `None` when none is.
    pub(super) fn select(&mut self, exclude: Option<NodeId>) -> Option<NodeId> {
        match &self.config.placement {
            Placement::Load => {
                let acked = self.acked_by_lines();
                let (slots, up_since) = (&self.slots, &self.up_since);
                let me = self.config.node;
                self.monitor.select(self.config.policy, &mut self.rng, |n| {
                    n != me
                        && Some(n) != exclude
                        && slots.get(&n).is_some_and(|s| {
                            s.vid.is_some() && !s.set_down && vids::named_up(up_since, s, acked)
                        })
                })
            }
            Placement::WeightedLeastConnections { weights } => {
                let weight = |id: NodeId| {
                    weights
                        .iter()
                        .find(|(s, _)| *s == id)
                        .map_or(1, |(_, w)| u64::from(*w))
                };
                let used = |id: NodeId| self.monitor.load(id).map_or(0, |l| u64::from(l.used));
                // used_a / w_a < used_b / w_b, compared as used_a * w_b < used_b * w_a.
                let best = self
                    .eligible(exclude)
                    .into_iter()
                    .filter(|id| weight(*id) > 0)
                    .fold(None, |best: Option<(NodeId, u64, u64)>, id| {
                        let (u, w) = (used(id), weight(id));
                        match best {
                            Some((_, bu, bw)) if bu * w <= u * bw => best,
                            _ => Some((id, u, w)),
                        }
                    })
                    .map(|(id, _, _)| id);
                if let (Some(id), None) = (best, exclude) {
                    // Counted until the processor's next report says its own count.
                    self.monitor.note_assigned(id);
                }
                best
            }
            Placement::LeastLoadTrend { .. } => {
                let percent = |id: NodeId| self.monitor.load(id).map_or(0, |l| l.percent);
                self.eligible(exclude)
                    .into_iter()
                    .min_by_key(|id| (self.trends.slope(*id), percent(*id), *id))
            }
        }
    }
}
