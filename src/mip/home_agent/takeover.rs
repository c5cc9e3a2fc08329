//! Takeover of a failed HA's bindings.

use super::*;

/// A mobile node's binding key: home address and NAI.
pub(super) type MnKey = (Ipv4Addr, Option<Box<[u8]>>);

/// Bindings this HA took over from an HA that turned out alive (same incarnation).
#[derive(Debug)]
pub(super) struct Returned {
    pub(super) incarnation: u32,
    pub(super) moved: HashMap<MnKey, u64>,
}

/// A takeover decision this HA applied for one failed HA.
#[derive(Debug)]
pub(super) struct Decision {
    pub(super) coordinator: NodeId,
    pub(super) owner: NodeId,
    /// The failed HA's incarnation then, as its cluster messages last said.
    pub(super) incarnation: Option<u32>,
    /// The mobile nodes whose bindings were moved from the failed HA (home address, NAI), with
    /// their identification then.
    pub(super) moved: HashMap<MnKey, u64>,
}

impl HomeAgent {
    /// `node` is alive: a later failure of it is a new takeover; what this HA took over from it
    /// is checked against its next bulk sync (if it kept its state: same incarnation).
    pub(super) fn forget_takeover(&mut self, node: NodeId) {
        self.deferred.remove(&node);
        let Some(d) = self.takeovers.remove(&node) else {
            return;
        };
        let Some(incarnation) = d.incarnation else {
            return;
        };
        if d.owner == self.node {
            self.returned.insert(
                node,
                Returned {
                    incarnation,
                    moved: d.moved,
                },
            );
            return;
        }
        // Another HA was to take them over. If `node` kept its state (it was only cut off, the
        // same incarnation), the bindings this HA re-pointed and nobody has registered since name
        // `node` again: the owner may never have taken them (it may not have seen `node` Down),
        // and `node` does not replicate bindings that did not change. An owner that did take
        // them re-announces them, and the two-servers rule settles it.
        if self.windows.get(&node).map(ReplayWindow::incarnation) != Some(incarnation) {
            return;
        }
        for ((h, n), id) in d.moved {
            if let Some(s) = self.table.find(h, n.as_deref())
                && self
                    .table
                    .get(s)
                    .is_some_and(|b| b.second_ha == d.owner && b.identification == id)
            {
                let _ = self.table.update(s, |b| b.second_ha = node);
            }
        }
    }

    /// Applies the decision "`coordinator` moved the bindings of `failed` to `owner`" (see the
    /// module docs for the rule): the lowest (coordinator, owner) wins; a winning decision
    /// re-points the failed HA's bindings and those a losing decision had moved; a losing one is
    /// answered (to `sender`) with the winning decision.
    pub(super) fn take_over(
        &mut self,
        now: Instant,
        failed: NodeId,
        owner: NodeId,
        coordinator: NodeId,
        sender: Option<NodeId>,
    ) {
        let node = self.node;
        // This HA is alive: its own bindings stay its own.
        if failed == node {
            return;
        }
        // A decision about an HA this HA does not see Down waits until it does (it may be only
        // cut off from the coordinator).
        if sender.is_some() && self.peer_state(failed) != NodeState::Down {
            self.defer(now, failed, coordinator, owner);
            return;
        }
        let prev = self
            .takeovers
            .get(&failed)
            .map(|d| (d.coordinator, d.owner));
        if let Some((c, o)) = prev
            && (coordinator, owner) > (c, o)
        {
            // A losing decision: keep ours and tell the sender which one wins.
            if let Some(s) = sender.filter(|s| *s != failed && *s != node) {
                self.tell(now, &[s], failed, o, c);
            }
            return;
        }
        let old_owner = prev.map(|(_, o)| o).filter(|o| *o != owner);
        let mut moved = self
            .takeovers
            .remove(&failed)
            .map(|d| d.moved)
            .unwrap_or_default();
        let slots = self.repoint(failed, owner, old_owner, &mut moved);
        self.replicate_moved(now, owner, old_owner, &slots, &moved);
        let incarnation = self.windows.get(&failed).map(ReplayWindow::incarnation);
        let decision = Decision {
            coordinator,
            owner,
            incarnation,
            moved,
        };
        self.takeovers.insert(failed, decision);
        let changed = prev != Some((coordinator, owner));
        if let Some((c, o)) = prev.filter(|_| changed) {
            // Superseded: the losing coordinator and owner learn the winner directly.
            let told: Vec<NodeId> = [c, o]
                .into_iter()
                .filter(|p| *p != node && *p != failed && Some(*p) != sender)
                .collect();
            self.tell(now, &told, failed, owner, coordinator);
        }
        if changed || !slots.is_empty() {
            self.push_event(Event::TakenOver {
                failed,
                owner,
                bindings: slots.len(),
            });
        }
    }

    /// Sends `peers` the decision "`coordinator` moved the bindings of `failed` to `owner`".
    fn tell(
        &mut self,
        now: Instant,
        peers: &[NodeId],
        failed: NodeId,
        owner: NodeId,
        coordinator: NodeId,
    ) {
        for &p in peers {
            let decision = Item::Takeover {
                failed,
                owner,
                coordinator,
            };
            self.enqueue(p, decision);
        }
        self.pump(now);
    }

    /// After re-pointing: the owner replicates the bindings as its own; a losing owner hands
    /// every one over, so its backups' replicas (which it may have overwritten meanwhile) name
    /// the winner.
    fn replicate_moved(
        &mut self,
        now: Instant,
        owner: NodeId,
        old_owner: Option<NodeId>,
        slots: &[u32],
        moved: &HashMap<MnKey, u64>,
    ) {
        if owner == self.node {
            for &s in slots {
                self.replicate_slot(s, now);
            }
        } else if old_owner == Some(self.node) {
            for (h, n) in moved.keys() {
                if let Some(s) = self.table.find(*h, n.as_deref()) {
                    self.replicate_record(s, now);
                }
            }
            self.pump(now);
        }
    }

    /// Keeps a decision received for an HA not seen Down, for a few heartbeat intervals; of
    /// two, the lowest (coordinator, owner).
    fn defer(&mut self, now: Instant, failed: NodeId, coordinator: NodeId, owner: NodeId) {
        let until = now + self.defer_for;
        let keep = self
            .deferred
            .get(&failed)
            .is_some_and(|(c, o, u)| (*c, *o) <= (coordinator, owner) && *u >= now);
        if !keep {
            self.deferred.insert(failed, (coordinator, owner, until));
        }
    }

    /// Re-points to `owner` the failed HA's bindings (noting them in `moved`, bounded by
    /// `max_bindings`), then those a losing decision had moved to `old_owner`. Returns their
    /// slots.
    fn repoint(
        &mut self,
        failed: NodeId,
        owner: NodeId,
        old_owner: Option<NodeId>,
        moved: &mut HashMap<MnKey, u64>,
    ) -> Vec<u32> {
        let mut slots: Vec<u32> = Vec::new();
        let cap = self.table.max_bindings();
        for (s, b) in self.table.iter() {
            if b.second_ha == failed {
                slots.push(s);
                if moved.len() < cap {
                    moved.insert((b.home_address, b.nai.clone()), b.identification);
                }
            }
        }
        if let Some(o) = old_owner {
            for (h, n) in moved.keys() {
                if let Some(s) = self.table.find(*h, n.as_deref())
                    && self.table.get(s).is_some_and(|b| b.second_ha == o)
                {
                    slots.push(s);
                }
            }
        }
        for &s in &slots {
            let _ = self.table.update(s, |b| {
                b.second_ha = owner;
                if b.first_ha == failed {
                    b.first_ha = owner;
                }
                if b.pending.as_ref().is_some_and(|p| p.second_ha == failed) {
                    b.pending = None;
                }
            });
        }
        // The owner's bulk sync in progress must not sweep what it now owns here.
        if let Some(sync) = self
            .channels
            .get_mut(&owner)
            .and_then(|c| c.sync_in.as_mut())
        {
            sync.seen.extend(slots.iter().copied());
        }
        slots
    }

    /// The owner a takeover decision gave this mobile node's binding, if one did.
    pub(super) fn decided_owner(
        &self,
        home_address: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> Option<NodeId> {
        let key = (home_address, nai.map(Box::from));
        self.takeovers
            .values()
            .find(|d| d.moved.contains_key(&key))
            .map(|d| d.owner)
    }

    pub(super) fn on_down(&mut self, now: Instant, failed: NodeId) {
        // A decision received before this HA saw the failure applies now, if recent.
        if let Some((coordinator, owner, until)) = self.deferred.remove(&failed)
            && until >= now
        {
            self.take_over(now, failed, owner, coordinator, None);
        }
        // A decision already taken (by a lower coordinator) stands.
        if self.takeovers.contains_key(&failed) {
            return;
        }
        let Some(backups) = self.members.get(&failed).map(|m| m.backups.clone()) else {
            return;
        };
        let candidates: Vec<NodeId> = backups
            .into_iter()
            .filter(|n| *n != failed && self.peer_state(*n) == NodeState::Up)
            .collect();
        // The lowest-numbered live backup coordinates; everyone else waits for its Takeover.
        if candidates.iter().min() != Some(&self.node) {
            return;
        }
        let owner = self
            .monitor
            .select(Policy::LeastLoaded, &mut self.rng, |n| {
                candidates.contains(&n)
            })
            .unwrap_or(self.node);
        let peers: Vec<NodeId> = self
            .members
            .keys()
            .copied()
            .filter(|n| *n != self.node && *n != failed)
            .collect();
        let coordinator = self.node;
        for p in peers {
            self.enqueue(
                p,
                Item::Takeover {
                    failed,
                    owner,
                    coordinator,
                },
            );
        }
        self.take_over(now, failed, owner, coordinator, None);
        self.pump(now);
    }
}

#[cfg(test)]
mod tests {
    //! The takeover rules of the virtual HA (module docs of `mip`).
    use super::super::testkit::*;
    use super::*;

    /// "For one failed HA, the decision of the lowest coordinator id wins ... An HA holding a
    /// decision ignores a losing one and answers its sender with the winner."
    #[test]
    fn the_lowest_coordinators_decision_wins_and_a_loser_is_told() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
        // HA 3 is Down here (never heard).
        ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(2), Some(NodeId(2)));
        assert_eq!(server(&ha1, 1), Some(NodeId(2)));
        ha1.take_over(t0, NodeId(3), NodeId(1), NodeId(1), None);
        assert_eq!(server(&ha1, 1), Some(NodeId(1)));
        ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(2), Some(NodeId(2)));
        assert_eq!(server(&ha1, 1), Some(NodeId(1)));
        let winner = Item::Takeover {
            failed: NodeId(3),
            owner: NodeId(1),
            coordinator: NodeId(1),
        };
        let ch = &ha1.channels[&NodeId(2)];
        let told = ch
            .queue
            .iter()
            .chain(ch.inflight.iter().flat_map(|i| &i.items));
        assert!(told.into_iter().any(|i| *i == winner));
    }

    /// "A takeover received for an HA this HA still sees alive waits until this HA sees it
    /// Down."
    #[test]
    fn a_decision_about_a_peer_seen_alive_waits() {
        let t0 = Instant::now();
        let (mut ha1, mut ha3) = (ha(1, t0), ha(3, t0));
        hear(&mut ha1, &mut ha3, t0);
        assert_eq!(ha1.peer_state(NodeId(3)), NodeState::Up);
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
        ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(2), Some(NodeId(2)));
        assert_eq!(server(&ha1, 1), Some(NodeId(3)));
        assert!(ha1.deferred.contains_key(&NodeId(3)));
    }
}
