//! Takeover of a failed HA's bindings (module docs of `mip`): [`Takeovers`] owns the decisions,
//! the deferred ones and the bindings to check on a peer's return; its decisions are functions of
//! a read-only [`View`] of the binding table and health that return [`Effect`]s, which the Home
//! Agent applies in one place.

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
    /// Of `moved`, those the owner has since replicated as its own (its claim of the
    /// registration moved, or of a later one): it took them, so they are not given back to
    /// the failed HA when it is seen alive ([`Takeovers::forget`]). A subset of `moved`'s keys.
    pub(super) claimed: HashSet<MnKey>,
}

/// A decision received for an HA this HA did not see Down yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Deferred {
    pub(super) coordinator: NodeId,
    pub(super) owner: NodeId,
    pub(super) until: Instant,
}

/// What a takeover step asks of the Home Agent, applied in order.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Effect {
    /// Queue a replication item (a decision) for a peer.
    Enqueue(NodeId, Item),
    /// Re-point these bindings of `failed` to `owner` (the first HA too when it was `failed`;
    /// a request pending at `failed` is dropped).
    Repoint {
        slots: Vec<u32>,
        failed: NodeId,
        owner: NodeId,
    },
    /// These bindings are served by `server` again (a takeover of a peer that was alive).
    Restore { slots: Vec<u32>, server: NodeId },
    /// `peer`'s bulk sync in progress has seen these bindings: not to be swept at its end.
    MarkSeen { peer: NodeId, slots: Vec<u32> },
    /// Replicate the binding as this HA's own (it serves it now).
    ReplicateOwn(u32),
    /// Replicate the binding whoever serves it (a handover).
    Handover(u32),
    /// Send the replication batches now.
    Pump,
    /// Tell the caller.
    Event(Event),
}

/// What the takeover decisions read: the binding table and health, as this HA sees them.
pub(super) struct View<'a> {
    pub(super) node: NodeId,
    pub(super) table: &'a BindingTable,
    pub(super) members: &'a BTreeMap<NodeId, Member>,
    /// The peers' replay windows (their incarnation, as their cluster messages last said).
    pub(super) windows: &'a HashMap<NodeId, ReplayWindow>,
    /// A member's health (this HA itself is Up).
    pub(super) health: &'a dyn Fn(NodeId) -> NodeState,
}

impl View<'_> {
    fn incarnation(&self, node: NodeId) -> Option<u32> {
        self.windows.get(&node).map(ReplayWindow::incarnation)
    }
}

/// The coordinator rule on `failed` going Down: the lowest-numbered live backup of `failed` (as
/// this HA sees them) coordinates. `Some(candidates)` (the live backups, among which it selects
/// the owner by load) when this HA is that backup; `None` when another one is.
pub(super) fn coordinates(v: &View<'_>, failed: NodeId) -> Option<Vec<NodeId>> {
    let backups = &v.members.get(&failed)?.backups;
    let candidates: Vec<NodeId> = backups
        .iter()
        .copied()
        .filter(|n| *n != failed && (v.health)(*n) == NodeState::Up)
        .collect();
    (candidates.iter().min() == Some(&v.node)).then_some(candidates)
}

/// The takeover state of one Home Agent: per failed member at most one applied decision, one
/// deferred and one set of returned bindings.
#[derive(Debug)]
pub(super) struct Takeovers {
    decisions: BTreeMap<NodeId, Decision>,
    returned: BTreeMap<NodeId, Returned>,
    deferred: BTreeMap<NodeId, Deferred>,
    /// Bindings another member's claim re-pointed here away from a server seen alive that wins
    /// the claim ([`super::replicate::displaces`]): the server and first HA they named, and the
    /// registration's identification ([`Takeovers::displaced`]).
    displaced: HashMap<MnKey, Displaced>,
    /// How long a deferred decision stays valid.
    defer_for: Duration,
}

/// What a binding named before another member's claim re-pointed it ([`Takeovers::displaced`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Displaced {
    /// The claimant.
    pub(super) by: NodeId,
    pub(super) second_ha: NodeId,
    pub(super) first_ha: NodeId,
    pub(super) identification: u64,
}

impl Takeovers {
    pub(super) fn new(defer_for: Duration) -> Takeovers {
        Takeovers {
            decisions: BTreeMap::new(),
            returned: BTreeMap::new(),
            deferred: BTreeMap::new(),
            displaced: HashMap::new(),
            defer_for,
        }
    }

    /// Notes that `by`'s claim of the same registration re-pointed `key`'s binding here away
    /// from a server seen alive that wins the claim (bounded by `cap`). The two-servers rule
    /// settles the claim between the two servers; should `by`'s bulk sync stop naming the
    /// binding unchanged (it gave it back, and its handover was dropped with its queue), the
    /// binding names that server again ([`Takeovers::displaced`]). `false`, nothing noted, when
    /// `cap` notes are held already (the caller counts it).
    pub(super) fn displace(&mut self, key: MnKey, d: Displaced, cap: usize) -> bool {
        if self.displaced.len() < cap || self.displaced.contains_key(&key) {
            self.displaced.insert(key, d);
            true
        } else {
            false
        }
    }

    /// A replica from `sender` of `key`'s binding: the word of the server it displaced (or of
    /// the claimant) supersedes the note.
    pub(super) fn replica_of(&mut self, key: &MnKey, sender: NodeId) {
        if self
            .displaced
            .get(key)
            .is_some_and(|d| d.second_ha == sender)
        {
            self.displaced.remove(key);
        }
    }

    /// `server`'s word that it no longer holds `key`'s binding (its removal: deregistered,
    /// revoked, expired) refutes a note that `server` is the live server a claim displaced
    /// here: the note goes, so the claimant's word settles the binding (bulk sync seed 4415).
    pub(super) fn server_removed(&mut self, key: &MnKey, server: NodeId) {
        if self
            .displaced
            .get(key)
            .is_some_and(|d| d.second_ha == server)
        {
            self.displaced.remove(key);
        }
    }

    /// The end of `server`'s bulk sync, authoritative: the notes that `server` is the live
    /// server a claim displaced here go for the bindings it did not name (`named`), as
    /// [`Takeovers::server_removed`] (its removal lost with an overflowed queue).
    pub(super) fn server_synced(&mut self, server: NodeId, named: impl Fn(&MnKey) -> bool) {
        self.displaced
            .retain(|k, d| d.second_ha != server || named(k));
    }

    /// What `key`'s binding named before `by`'s claim re-pointed it, if noted (the note goes).
    pub(super) fn displaced(&mut self, key: &MnKey, by: NodeId) -> Option<Displaced> {
        self.displaced.remove(key).filter(|d| d.by == by)
    }

    /// `node` restarted: its state is gone, so a takeover of it stands and nothing is checked
    /// against it.
    pub(super) fn restarted(&mut self, node: NodeId) {
        self.displaced.retain(|_, d| d.second_ha != node);
        self.deferred.remove(&node);
        self.decisions.remove(&node);
        self.returned.remove(&node);
    }

    /// The decision applied for `failed`, as (coordinator, owner).
    pub(super) fn decision(&self, failed: NodeId) -> Option<(NodeId, NodeId)> {
        self.decisions
            .get(&failed)
            .map(|d| (d.coordinator, d.owner))
    }

    /// The decision deferred for `failed`, if any.
    #[cfg(test)]
    pub(super) fn deferred(&self, failed: NodeId) -> Option<Deferred> {
        self.deferred.get(&failed).copied()
    }

    /// `node` is alive: a later failure of it is a new takeover; what this HA took over from it
    /// is checked against its next bulk sync (if it kept its state: same incarnation).
    pub(super) fn forget(&mut self, v: &View<'_>, node: NodeId) -> Vec<Effect> {
        self.deferred.remove(&node);
        let Some(d) = self.decisions.remove(&node) else {
            return Vec::new();
        };
        let Some(incarnation) = d.incarnation else {
            return Vec::new();
        };
        if d.owner == v.node {
            let moved = d.moved;
            self.returned.insert(node, Returned { incarnation, moved });
            return Vec::new();
        }
        // Another HA was to take them over. If `node` kept its state (it was only cut off, the
        // same incarnation), the bindings this HA re-pointed and nobody has registered since name
        // `node` again: the owner may never have taken them (it may not have seen `node` Down),
        // and `node` does not replicate bindings that did not change. Those the owner replicated
        // as its own since the decision stay its own ([`Decision::claimed`]): it took them and
        // does not announce them again (takeover seed 4544: given back to `node`, which had
        // yielded them, they named a member that no longer served them, and the next takeover of
        // it made two servers). The two-servers rule settles them between the owner and `node`.
        if v.incarnation(node) != Some(incarnation) {
            return Vec::new();
        }
        let slots = d
            .moved
            .iter()
            .filter(|(k, _)| !d.claimed.contains(*k))
            .filter_map(|((h, n), id)| {
                let s = v.table.find(*h, n.as_deref())?;
                let b = v.table.get(s)?;
                (b.second_ha == d.owner && b.identification == *id).then_some(s)
            })
            .collect();
        vec![Effect::Restore {
            slots,
            server: node,
        }]
    }

    /// `sender` begins a bulk sync: it is alive, whatever health said. A peer that restarted
    /// (another incarnation) lost its state: the takeover stands, nothing is checked.
    pub(super) fn sync_begun(&mut self, v: &View<'_>, sender: NodeId) -> Vec<Effect> {
        let effects = self.forget(v, sender);
        let incarnation = v.incarnation(sender);
        if self
            .returned
            .get(&sender)
            .is_some_and(|r| Some(r.incarnation) != incarnation)
        {
            self.returned.remove(&sender);
        }
        effects
    }

    /// What this HA took over from `sender` and is to check against its bulk sync now ending,
    /// when `sender` kept its state (same `incarnation`).
    pub(super) fn take_returned(
        &mut self,
        sender: NodeId,
        incarnation: Option<u32>,
    ) -> Option<HashMap<MnKey, u64>> {
        let r = self.returned.remove(&sender)?;
        (Some(r.incarnation) == incarnation).then_some(r.moved)
    }

    /// The identification of `key`'s binding when this HA (`node`) took it over from `from`: by
    /// a decision that made this HA the owner, or one that `from`'s return is to check.
    pub(super) fn taken_from(&self, from: NodeId, node: NodeId, key: &MnKey) -> Option<u64> {
        let decided = self.decisions.get(&from).filter(|d| d.owner == node);
        let returned = self.returned.get(&from);
        decided
            .map(|d| &d.moved)
            .into_iter()
            .chain(returned.map(|r| &r.moved))
            .find_map(|m| m.get(key).copied())
    }

    /// A replica `r` from `sender` of a binding a decision moved to `sender` (of that
    /// registration or a later one): the owner's word on it. Naming `sender` as the server, the
    /// owner took it, and it is noted as claimed ([`Decision::claimed`]); naming another server
    /// (the owner handed it over, to the failed HA seen alive), no longer.
    pub(super) fn owner_says(&mut self, r: &Record, sender: NodeId) {
        if r.binding_state() != BindingState::Permanent {
            return;
        }
        let key = (r.home_address, r.nai.clone());
        for d in self.decisions.values_mut() {
            if d.owner != sender || d.moved.get(&key).is_none_or(|id| *id > r.identification) {
                continue;
            }
            if r.second_ha == sender {
                d.claimed.insert(key.clone());
            } else {
                d.claimed.remove(&key);
            }
        }
    }

    /// The owner a takeover decision gave this mobile node's binding, if one did.
    pub(super) fn decided_owner(
        &self,
        home_address: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> Option<NodeId> {
        let key = (home_address, nai.map(Box::from));
        self.decisions
            .values()
            .find(|d| d.moved.contains_key(&key))
            .map(|d| d.owner)
    }

    /// A late replica naming an HA already taken over names the decided owner instead (noted as
    /// moved, bounded by `cap`). Returns whether this HA is that owner.
    pub(super) fn redirect(
        &mut self,
        r: &mut Record,
        sender: NodeId,
        node: NodeId,
        cap: usize,
    ) -> bool {
        if r.binding_state() != BindingState::Permanent || r.second_ha == sender {
            return false;
        }
        let Some(d) = self.decisions.get_mut(&r.second_ha) else {
            return false;
        };
        let failed = r.second_ha;
        if d.moved.len() < cap {
            d.moved
                .insert((r.home_address, r.nai.clone()), r.identification);
        }
        r.second_ha = d.owner;
        if r.first_ha == failed {
            r.first_ha = d.owner;
        }
        d.owner == node
    }

    /// Applies the decision "`coordinator` moved the bindings of `failed` to `owner`" (see the
    /// module docs for the rule): the lowest (coordinator, owner) wins; a winning decision
    /// re-points the failed HA's bindings and those a losing decision had moved; a losing one is
    /// answered (to `sender`) with the winning decision.
    pub(super) fn decide(
        &mut self,
        v: &View<'_>,
        now: Instant,
        failed: NodeId,
        owner: NodeId,
        coordinator: NodeId,
        sender: Option<NodeId>,
    ) -> Vec<Effect> {
        let node = v.node;
        // This HA is alive: its own bindings stay its own.
        if failed == node {
            return Vec::new();
        }
        // A decision about an HA this HA does not see Down waits until it does (it may be only
        // cut off from the coordinator).
        if sender.is_some() && (v.health)(failed) != NodeState::Down {
            self.defer(now, failed, coordinator, owner);
            return Vec::new();
        }
        let prev = self.decision(failed);
        if let Some((c, o)) = prev
            && (coordinator, owner) > (c, o)
        {
            // A losing decision: keep ours and tell the sender which one wins.
            let to: Vec<NodeId> = sender
                .filter(|s| *s != failed && *s != node)
                .into_iter()
                .collect();
            return tell(&to, failed, o, c);
        }
        let old_owner = prev.map(|(_, o)| o).filter(|o| *o != owner);
        let mut moved = self
            .decisions
            .remove(&failed)
            .map(|d| d.moved)
            .unwrap_or_default();
        let slots = repointed(v.table, failed, old_owner, &mut moved);
        let mut effects = vec![
            Effect::Repoint {
                slots: slots.clone(),
                failed,
                owner,
            },
            // The owner's bulk sync in progress must not sweep what it now owns here.
            Effect::MarkSeen {
                peer: owner,
                slots: slots.clone(),
            },
        ];
        effects.extend(replicate_moved(v, owner, old_owner, &slots, &moved));
        let incarnation = v.incarnation(failed);
        let decision = Decision {
            coordinator,
            owner,
            incarnation,
            moved,
            claimed: HashSet::new(),
        };
        self.decisions.insert(failed, decision);
        let changed = prev != Some((coordinator, owner));
        if let Some((c, o)) = prev.filter(|_| changed) {
            // Superseded: the losing coordinator and owner learn the winner directly.
            let told: Vec<NodeId> = [c, o]
                .into_iter()
                .filter(|p| *p != node && *p != failed && Some(*p) != sender)
                .collect();
            effects.extend(tell(&told, failed, owner, coordinator));
        }
        if changed || !slots.is_empty() {
            effects.push(Effect::Event(Event::TakenOver {
                failed,
                owner,
                bindings: slots.len(),
                // The tunnels the table reports the re-pointing added (`effects.rs`).
                tunnels: Vec::new(),
            }));
        }
        effects
    }

    /// Keeps a decision received for an HA not seen Down, for a few heartbeat intervals; of
    /// two, the lowest (coordinator, owner).
    fn defer(&mut self, now: Instant, failed: NodeId, coordinator: NodeId, owner: NodeId) {
        let keep = self
            .deferred
            .get(&failed)
            .is_some_and(|d| (d.coordinator, d.owner) <= (coordinator, owner) && d.until >= now);
        if !keep {
            let until = now + self.defer_for;
            let d = Deferred {
                coordinator,
                owner,
                until,
            };
            self.deferred.insert(failed, d);
        }
    }

    /// `failed` is Down: a decision received before this HA saw it applies now, if recent. The
    /// second part is the owner candidates when this HA coordinates ([`coordinates`]) and no
    /// decision stands yet.
    pub(super) fn on_down(
        &mut self,
        v: &View<'_>,
        now: Instant,
        failed: NodeId,
    ) -> (Vec<Effect>, Option<Vec<NodeId>>) {
        let mut effects = Vec::new();
        if let Some(d) = self.deferred.remove(&failed)
            && d.until >= now
        {
            effects = self.decide(v, now, failed, d.owner, d.coordinator, None);
        }
        // A decision already taken by this HA or a lower coordinator stands. One by a higher
        // coordinator (received while this HA still saw `failed` alive, and applied now) does
        // not stop this HA from coordinating when it is the lowest live backup: its decision
        // wins (the lowest coordinator's), and it announces it to every member. The higher
        // coordinator may have forgotten its own meanwhile (it saw `failed` Up again), and then
        // waits for this HA's decision (takeover seed 7948).
        if self
            .decision(failed)
            .is_some_and(|(coordinator, _)| coordinator <= v.node)
        {
            return (effects, None);
        }
        (effects, coordinates(v, failed))
    }

    /// This HA coordinates the takeover of `failed`: it announces "`owner` serves them" to every
    /// other member and applies it.
    pub(super) fn coordinate(
        &mut self,
        v: &View<'_>,
        now: Instant,
        failed: NodeId,
        owner: NodeId,
    ) -> Vec<Effect> {
        let coordinator = v.node;
        let peers = v.members.keys().copied();
        let others = peers.filter(|n| *n != coordinator && *n != failed);
        let mut effects = announce(others, failed, owner, coordinator);
        effects.extend(self.decide(v, now, failed, owner, coordinator, None));
        effects.push(Effect::Pump);
        effects
    }
}

/// Queues the decision "`coordinator` moved the bindings of `failed` to `owner`" for `peers`.
fn announce(
    peers: impl Iterator<Item = NodeId>,
    failed: NodeId,
    owner: NodeId,
    coordinator: NodeId,
) -> Vec<Effect> {
    peers
        .map(|p| {
            let decision = Item::Takeover {
                failed,
                owner,
                coordinator,
            };
            Effect::Enqueue(p, decision)
        })
        .collect()
}

/// Sends `peers` the decision "`coordinator` moved the bindings of `failed` to `owner`".
fn tell(peers: &[NodeId], failed: NodeId, owner: NodeId, coordinator: NodeId) -> Vec<Effect> {
    let mut effects = announce(peers.iter().copied(), failed, owner, coordinator);
    effects.push(Effect::Pump);
    effects
}

/// After re-pointing: the owner replicates the bindings as its own; a losing owner hands every
/// one over, so its backups' replicas (which it may have overwritten meanwhile) name the winner.
fn replicate_moved(
    v: &View<'_>,
    owner: NodeId,
    old_owner: Option<NodeId>,
    slots: &[u32],
    moved: &HashMap<MnKey, u64>,
) -> Vec<Effect> {
    if owner == v.node {
        return slots.iter().map(|s| Effect::ReplicateOwn(*s)).collect();
    }
    if old_owner != Some(v.node) {
        return Vec::new();
    }
    let mut effects: Vec<Effect> = moved
        .keys()
        .filter_map(|(h, n)| v.table.find(*h, n.as_deref()))
        .map(Effect::Handover)
        .collect();
    effects.push(Effect::Pump);
    effects
}

/// The bindings a decision re-points: the failed HA's (noted in `moved`, bounded by the
/// table's `max_bindings`), then those a losing decision had moved to `old_owner`.
fn repointed(
    table: &BindingTable,
    failed: NodeId,
    old_owner: Option<NodeId>,
    moved: &mut HashMap<MnKey, u64>,
) -> Vec<u32> {
    let mut slots: Vec<u32> = Vec::new();
    let cap = table.max_bindings();
    for (s, b) in table.iter() {
        if b.second_ha == failed {
            slots.push(s);
            if moved.len() < cap {
                moved.insert((b.home_address, b.nai().map(Box::from)), b.identification);
            }
        }
    }
    if let Some(o) = old_owner {
        for (h, n) in moved.keys() {
            if let Some(s) = table.find(*h, n.as_deref())
                && table.get(s).is_some_and(|b| b.second_ha == o)
            {
                slots.push(s);
            }
        }
    }
    slots
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
        let in_flight = ch.in_flight().into_iter().flat_map(|(_, e)| e);
        let mut told = ch.queued().chain(in_flight.filter_map(|e| e.item()));
        assert!(told.any(|i| *i == winner));
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
        assert!(ha1.takeover.deferred(NodeId(3)).is_some());
    }

    /// A view of `ha`'s table with the given members Up (`up`), as member `node` sees them.
    fn view_of<'a>(ha: &'a HomeAgent, health: &'a dyn Fn(NodeId) -> NodeState) -> View<'a> {
        View {
            node: ha.node,
            table: &ha.table,
            members: &ha.members,
            windows: &ha.windows,
            health,
        }
    }

    /// "When an HA is Down, the lowest-numbered live backup (as it sees them) selects the new
    /// owner among the live backups by load": HA 3's backups are 1 and 2.
    #[test]
    fn on_down_the_lowest_live_backup_coordinates_among_the_live_backups() {
        let t0 = Instant::now();
        let (ha1, ha2) = (ha(1, t0), ha(2, t0));
        let all_up = |_: NodeId| NodeState::Up;
        assert_eq!(
            coordinates(&view_of(&ha1, &all_up), NodeId(3)),
            Some(vec![NodeId(1), NodeId(2)])
        );
        assert_eq!(coordinates(&view_of(&ha2, &all_up), NodeId(3)), None);
        // HA 2 sees HA 1 Down too: it is the lowest live backup now, and the only candidate.
        let one_down = |n: NodeId| {
            if n == NodeId(1) {
                NodeState::Down
            } else {
                NodeState::Up
            }
        };
        assert_eq!(
            coordinates(&view_of(&ha2, &one_down), NodeId(3)),
            Some(vec![NodeId(2)])
        );
    }

    /// "Adopting a winner re-points the failed HA's bindings and those the losing decision had
    /// moved; the losing owner hands them over (re-replicates them naming the winner)."
    #[test]
    fn the_losing_owner_hands_the_bindings_over_to_the_winner() {
        let t0 = Instant::now();
        let mut ha2 = ha(2, t0);
        ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
        let slot = ha2.table.find(home(1), None).unwrap();
        // HA 2 decided it owns HA 3's bindings; HA 1's decision (lower coordinator) wins.
        ha2.take_over(t0, NodeId(3), NodeId(2), NodeId(2), None);
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        let down = |_: NodeId| NodeState::Down;
        let mut t = std::mem::replace(&mut ha2.takeover, Takeovers::new(Duration::ZERO));
        let effects = t.decide(
            &view_of(&ha2, &down),
            t0,
            NodeId(3),
            NodeId(1),
            NodeId(1),
            Some(NodeId(1)),
        );
        assert!(effects.contains(&Effect::Repoint {
            slots: vec![slot],
            failed: NodeId(3),
            owner: NodeId(1),
        }));
        assert!(effects.contains(&Effect::Handover(slot)));
        assert!(!effects.contains(&Effect::ReplicateOwn(slot)));
        assert_eq!(t.decision(NodeId(3)), Some((NodeId(1), NodeId(1))));
    }

    /// "Bindings taken over from a peer seen alive again with its state (same incarnation)"
    /// name it again when another HA was to own them and nobody registered them since; "a peer
    /// that restarted lost its state: the takeover stands."
    #[test]
    fn a_peer_seen_alive_with_its_state_gets_back_what_another_owner_was_to_take() {
        let t0 = Instant::now();
        let up = |_: NodeId| NodeState::Up;
        // HA 1 re-pointed HA 3's binding to HA 2, then hears HA 3 under `incarnation`.
        let forget_after = |incarnation: u32| {
            let mut ha1 = ha(1, t0);
            ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
            let slot = ha1.table.find(home(1), None).unwrap();
            let mut w = ReplayWindow::default();
            w.accept(1, 1);
            ha1.windows.insert(NodeId(3), w);
            ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(2), None);
            assert_eq!(server(&ha1, 1), Some(NodeId(2)));
            w.accept(incarnation, 2);
            ha1.windows.insert(NodeId(3), w);
            let mut t = std::mem::replace(&mut ha1.takeover, Takeovers::new(Duration::ZERO));
            let effects = t.forget(&view_of(&ha1, &up), NodeId(3));
            assert_eq!(t.decision(NodeId(3)), None, "the decision is forgotten");
            (effects, slot)
        };
        let (effects, slot) = forget_after(1);
        let restore = Effect::Restore {
            slots: vec![slot],
            server: NodeId(3),
        };
        assert_eq!(effects, vec![restore]);
        // Seen again under a new incarnation: it restarted, nothing goes back.
        assert!(forget_after(2).0.is_empty());
    }

    /// "Bindings taken over from a peer seen alive again with its state ... name it again when
    /// another HA was to own them and nobody registered them since": not those the owner has
    /// replicated as its own since the decision (it took them; the two-servers rule settles
    /// them between it and the peer), unless the owner's last word on one names another
    /// server (it handed it over). Takeover seed 4544: HA 3 gave back to HA 2 a binding HA 1,
    /// the owner, served and HA 2 had yielded; two members then claimed it (a stale relay
    /// record had re-pointed it to HA 2 just before the decision). Seed 486: the owner's
    /// handover back to the failed HA retracts its claim.
    #[test]
    fn a_peer_seen_alive_gets_back_only_what_the_owner_did_not_claim() {
        let t0 = Instant::now();
        let up = |_: NodeId| NodeState::Up;
        // HA 1 re-points HA 3's bindings of mobile nodes 1 and 2 to HA 2, hears from the
        // owner (`owner_records`), then hears HA 3 again with its state.
        let restored_after = |owner_records: &[Record]| {
            let mut ha1 = ha(1, t0);
            for k in [1, 2] {
                ha1.apply(t0, NodeId(3), Item::Upsert(permanent(k, 3, 3, 5)));
            }
            let mut w = ReplayWindow::default();
            w.accept(1, 1);
            ha1.windows.insert(NodeId(3), w);
            ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(2), None);
            for r in owner_records {
                ha1.apply(t0, NodeId(2), Item::Upsert(r.clone()));
            }
            let mut t = std::mem::replace(&mut ha1.takeover, Takeovers::new(Duration::ZERO));
            let effects = t.forget(&view_of(&ha1, &up), NodeId(3));
            let slot = |k| ha1.table.find(home(k), None).unwrap();
            let restored: Vec<u32> = effects
                .into_iter()
                .flat_map(|e| match e {
                    Effect::Restore { slots, .. } => slots,
                    _ => Vec::new(),
                })
                .map(|s| if s == slot(1) { 1 } else { 2 })
                .collect();
            restored
        };
        // Nothing from the owner: both go back.
        let mut both = restored_after(&[]);
        both.sort_unstable();
        assert_eq!(both, [1, 2]);
        // The owner replicated mobile node 1's binding as its own: only mobile node 2's.
        assert_eq!(restored_after(&[permanent(1, 2, 2, 5)]), [2]);
        // ... then handed it back to HA 3 (its last word names HA 3): both.
        let mut both = restored_after(&[permanent(1, 2, 2, 5), permanent(1, 3, 3, 5)]);
        both.sort_unstable();
        assert_eq!(both, [1, 2]);
        // An owner's record of an older registration than the one moved says nothing.
        let mut both = restored_after(&[permanent(1, 2, 2, 4)]);
        both.sort_unstable();
        assert_eq!(both, [1, 2]);
    }

    /// "A late replica naming an HA already taken over names the decided owner (which
    /// replicates it as its own)."
    #[test]
    fn a_late_replica_naming_a_taken_over_ha_names_the_decided_owner() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.take_over(t0, NodeId(3), NodeId(1), NodeId(1), None);
        let mut r = permanent(1, 3, 3, 5);
        assert!(ha1.takeover.redirect(&mut r, NodeId(2), NodeId(1), 10));
        assert_eq!((r.first_ha, r.second_ha), (NodeId(1), NodeId(1)));
        assert_eq!(ha1.takeover.decided_owner(home(1), None), Some(NodeId(1)));
        // From the failed HA itself the replica is first-hand: unchanged.
        let mut r = permanent(2, 3, 3, 5);
        assert!(!ha1.takeover.redirect(&mut r, NodeId(3), NodeId(1), 10));
        assert_eq!(r.second_ha, NodeId(3));
    }

    /// "When an HA is Down, the lowest-numbered live backup (as it sees them) selects the new
    /// owner ... for one failed HA, the decision of the lowest coordinator id wins." HA 1 saw
    /// HA 2 alive when HA 3's decision about it arrived (HA 3 had seen HA 1 Suspect): deferred.
    /// HA 3 then saw HA 2 Up again and forgot it; HA 1, seeing HA 2 Down, applies the deferred
    /// decision but still coordinates, being the lowest live backup: else HA 3, waiting for HA
    /// 1's decision, never re-points HA 2's bindings and nobody serves them (takeover seed
    /// 7948). A decision by this HA or a lower coordinator stands.
    #[test]
    fn the_lowest_live_backup_coordinates_over_a_deferred_higher_coordinators_decision() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 1, 2, 5)));
        let up = |_: NodeId| NodeState::Up;
        let two_down = |n: NodeId| {
            if n == NodeId(2) {
                NodeState::Down
            } else {
                NodeState::Up
            }
        };
        let on_down_after = |coordinator: u32, owner: u32| {
            let mut t = Takeovers::new(Duration::from_secs(3));
            let (c, o) = (NodeId(coordinator), NodeId(owner));
            let deferred = t.decide(&view_of(&ha1, &up), t0, NodeId(2), o, c, Some(c));
            assert!(deferred.is_empty());
            let (effects, candidates) = t.on_down(&view_of(&ha1, &two_down), t0, NodeId(2));
            assert!(effects.iter().any(|e| matches!(e, Effect::Repoint { .. })));
            assert_eq!(t.decision(NodeId(2)), Some((c, o)));
            candidates
        };
        assert_eq!(on_down_after(3, 3), Some(vec![NodeId(1), NodeId(3)]));
        assert_eq!(on_down_after(1, 3), None);
    }

    /// The displaced-server notes hold at most `cap` (the table's `max_bindings`): a note for a
    /// further binding is refused (the caller counts it, `HaStats::displaced_not_noted`); one
    /// for a binding already noted replaces it; a note taken makes room again.
    #[test]
    fn displaced_notes_are_bounded() {
        let mut t = Takeovers::new(Duration::from_secs(1));
        let key = |n: u8| -> MnKey { (Ipv4Addr::new(10, 0, 0, n), None) };
        let d = |id: u64| Displaced {
            by: NodeId(3),
            second_ha: NodeId(1),
            first_ha: NodeId(1),
            identification: id,
        };
        assert!(t.displace(key(1), d(5), 1));
        assert!(!t.displace(key(2), d(5), 1), "full");
        assert!(
            t.displace(key(1), d(6), 1),
            "the same binding's note replaced"
        );
        assert_eq!(t.displaced(&key(1), NodeId(3)), Some(d(6)));
        assert!(t.displace(key(2), d(5), 1), "room again");
    }
}
