//! Replication to the backups (module docs of `mip`): a [`Channel`] per peer owns its sequence
//! numbers, queue, batch in flight and bulk syncs both ways and returns the batches to send; the
//! rules a replica is applied by are functions of the binding it would change ([`claim`],
//! [`removal`], [`stale`], [`gone`]). The Home Agent applies what they decide (`apply.rs`).

use super::takeover::MnKey;
use super::*;

#[derive(Debug)]
pub(super) struct Inflight {
    pub(super) seq: u64,
    pub(super) items: Vec<Item>,
    pub(super) deadline: Instant,
    pub(super) timeout: Duration,
}

/// Where an outgoing bulk sync stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum BulkSync {
    /// None in progress.
    #[default]
    Idle,
    /// To start: the next batch opens with [`Item::SyncBegin`].
    Start,
    /// Walking the table from this slot.
    Walk(u32),
    /// Walked: the next batch carries [`Item::SyncEnd`].
    Finish,
}

/// An incoming bulk sync: its epoch and the slots its sender named since it began.
#[derive(Debug)]
pub(super) struct SyncIn {
    pub(super) epoch: u32,
    pub(super) seen: HashSet<u32>,
}

/// The reliable, acknowledged replication channel with one peer, both directions.
#[derive(Debug, Default)]
pub(super) struct Channel {
    pub(super) next_seq: u64,
    pub(super) queue: VecDeque<Item>,
    pub(super) inflight: Option<Inflight>,
    pub(super) bulk: BulkSync,
    /// Epoch of the last bulk sync started towards this peer.
    pub(super) epoch: u32,
    /// A bulk sync from this peer in progress.
    pub(super) sync_in: Option<SyncIn>,
    pub(super) last_acked_in: Option<u64>,
}

impl Channel {
    /// (Re)starts a bulk sync under a new epoch. The batch in flight is abandoned (the sync covers
    /// its upserts and removals); its takeover decisions are queued again, first.
    pub(super) fn restart_bulk(&mut self) {
        self.bulk = BulkSync::Start;
        if let Some(inf) = self.inflight.take() {
            for i in inf.items.into_iter().rev() {
                if matches!(i, Item::Takeover { .. }) {
                    self.queue.push_front(i);
                }
            }
        }
    }

    /// Queues `item`. A peer too far behind (`max` items queued) is resynchronised in bulk
    /// instead: the queue is dropped (the sync is authoritative: it also removes what the
    /// dropped removals would have), except takeover decisions, which are not table state (a
    /// few per failed member at most).
    pub(super) fn enqueue(&mut self, item: Item, max: usize) {
        if self.queue.len() < max {
            self.queue.push_back(item);
            return;
        }
        self.queue.retain(|i| matches!(i, Item::Takeover { .. }));
        if self.queue.len() >= max {
            self.queue.clear();
        }
        self.restart_bulk();
        if matches!(item, Item::Takeover { .. }) {
            self.queue.push_back(item);
        }
    }

    /// Items not yet acknowledged (queued or in flight), a bulk sync to do counting one.
    pub(super) fn backlog(&self) -> usize {
        self.queue.len()
            + self.inflight.as_ref().map_or(0, |i| i.items.len())
            + usize::from(self.bulk != BulkSync::Idle)
    }

    /// A batch `seq` from the peer: whether it is new (to apply; it is acknowledged either way).
    pub(super) fn receive(&mut self, seq: u64) -> bool {
        let fresh = self.last_acked_in.is_none_or(|l| seq > l);
        if fresh {
            self.last_acked_in = Some(seq);
        }
        fresh
    }

    /// The peer acknowledged batch `seq`.
    pub(super) fn acked(&mut self, seq: u64) {
        if self.inflight.as_ref().is_some_and(|i| i.seq == seq) {
            self.inflight = None;
        }
    }

    /// The peer begins a bulk sync: it replaces one left unfinished.
    pub(super) fn begin_sync(&mut self, epoch: u32) {
        let seen = HashSet::new();
        self.sync_in = Some(SyncIn { epoch, seen });
    }

    /// The peer's bulk sync `epoch` ends: the slots it named, or `None` for another epoch.
    pub(super) fn end_sync(&mut self, epoch: u32) -> Option<HashSet<u32>> {
        if self.sync_in.as_ref().is_none_or(|s| s.epoch != epoch) {
            return None;
        }
        self.sync_in.take().map(|s| s.seen)
    }

    /// The peer's bulk sync in progress (if any) has seen these bindings.
    pub(super) fn mark_seen(&mut self, slots: &[u32]) {
        if let Some(sync) = self.sync_in.as_mut() {
            sync.seen.extend(slots.iter().copied());
        }
    }

    /// The next batch for `peer` when nothing is in flight: the bulk sync first (SyncBegin, a
    /// cursor over `table`, SyncEnd), then the queue. It is held in flight until acknowledged.
    pub(super) fn next_batch(
        &mut self,
        table: &BindingTable,
        node: NodeId,
        peer: NodeId,
        now: Instant,
        rto: Duration,
    ) -> Option<(u64, Vec<Item>)> {
        if self.inflight.is_some() {
            return None;
        }
        let mut items = Vec::new();
        while items.len() < cluster::MAX_ITEMS {
            match self.bulk {
                BulkSync::Idle => break,
                BulkSync::Start => {
                    self.epoch = self.epoch.wrapping_add(1);
                    items.push(Item::SyncBegin { epoch: self.epoch });
                    self.bulk = BulkSync::Walk(0);
                }
                BulkSync::Walk(c) => match table.next_slot(c) {
                    Some(s) => {
                        items.extend(bulk_item(table, s, node, peer, now));
                        self.bulk = s.checked_add(1).map_or(BulkSync::Finish, BulkSync::Walk);
                    }
                    None => self.bulk = BulkSync::Finish,
                },
                BulkSync::Finish => {
                    items.push(Item::SyncEnd { epoch: self.epoch });
                    self.bulk = BulkSync::Idle;
                }
            }
        }
        while items.len() < cluster::MAX_ITEMS {
            match self.queue.pop_front() {
                Some(i) => items.push(i),
                None => break,
            }
        }
        if items.is_empty() {
            return None;
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        self.inflight = Some(Inflight {
            seq,
            items: items.clone(),
            deadline: now + rto,
            timeout: rto,
        });
        Some((seq, items))
    }

    /// The batch in flight when its deadline passed: to send again (the timeout doubled, up to
    /// `max_rto`) when the peer is `up`; else kept for when it is (a bulk sync covers it then).
    pub(super) fn due(
        &mut self,
        now: Instant,
        up: bool,
        max_rto: Duration,
    ) -> Option<(u64, Vec<Item>)> {
        let inf = self.inflight.as_mut().filter(|i| i.deadline <= now)?;
        if !up {
            inf.deadline = now + max_rto;
            return None;
        }
        inf.timeout = inf.timeout.saturating_mul(2).min(max_rto);
        inf.deadline = now + inf.timeout;
        Some((inf.seq, inf.items.clone()))
    }
}

/// What a bulk sync to `peer` says of the binding in `slot`: the binding itself when this HA
/// serves or relays it, [`Item::Holds`] when `peer` serves it (permanent), else nothing.
fn bulk_item(
    table: &BindingTable,
    slot: u32,
    node: NodeId,
    peer: NodeId,
    now: Instant,
) -> Option<Item> {
    let r = record(table, slot, now)?;
    if r.second_ha == node || r.first_ha == node {
        Some(Item::Upsert(r))
    } else if r.second_ha == peer && r.binding_state() == BindingState::Permanent {
        Some(Item::Holds {
            home_address: r.home_address,
            nai: r.nai,
        })
    } else {
        None
    }
}

/// The binding in `slot` as a replica (remaining times measured from `now`).
pub(super) fn record(table: &BindingTable, slot: u32, now: Instant) -> Option<Record> {
    let b = table.get(slot)?;
    if b.state() == BindingState::Temporary {
        let p = b.pending.as_ref()?;
        return Some(Record {
            home_address: b.home_address,
            nai: b.nai.clone(),
            first_ha: p.first_ha,
            second_ha: p.second_ha,
            fa: p.fa.into(),
            identification: p.identification,
            state: RecordState::Temporary {
                care_of: p.care_of,
                pending_left: p.deadline.saturating_duration_since(now),
            },
        });
    }
    let care_of = b
        .care_of
        .iter()
        .map(|c| {
            (
                c.address,
                c.expires.map(|e| e.saturating_duration_since(now)),
            )
        })
        .collect();
    Some(Record {
        home_address: b.home_address,
        nai: b.nai.clone(),
        first_ha: b.first_ha,
        second_ha: b.second_ha,
        fa: b.fa.into(),
        identification: b.identification,
        state: RecordState::Permanent { care_of },
    })
}

/// What a replica from `sender` does to the binding `b` this HA (`node`) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// Nothing: this HA's binding stands. `reassert`: this HA serves it and the sender lost its
    /// claim, so this HA replicates it again; `end_pending`: the request the sender relays, if
    /// pending here, ends.
    Keep { reassert: bool, end_pending: bool },
    /// It replaces the binding this HA served: this HA yields and re-replicates it; an address
    /// it assigned (`release`) goes back to its pool.
    Yield { release: Option<Ipv4Addr> },
    /// It replaces the binding.
    Take,
}

/// Whether a replica `r` from `sender` may change `b` (module docs of `mip`). Never what this HA
/// serves itself, unless the sender claims to serve it too and wins: the owner a takeover
/// decided (`decided`), else the newer registration (identification), else the lower node id.
/// A replica older than the binding changes nothing and makes nobody server: replication from
/// two senders is not ordered.
pub(super) fn claim(
    b: &Binding,
    node: NodeId,
    sender: NodeId,
    r: &Record,
    decided: Option<NodeId>,
) -> Claim {
    if b.second_ha == node && r.second_ha != node {
        let wins = r.second_ha == sender
            && match decided {
                Some(o) => o == sender,
                None => (r.identification, Reverse(sender)) > (b.identification, Reverse(node)),
            };
        if !wins {
            let reassert = r.second_ha == sender;
            return Claim::Keep {
                reassert,
                end_pending: false,
            };
        }
        let release = (b.home_address != r.home_address).then_some(b.home_address);
        return Claim::Yield { release };
    }
    if b.identification > r.identification {
        return Claim::Keep {
            reassert: false,
            end_pending: true,
        };
    }
    Claim::Take
}

/// What a replicated removal from `sender` does to `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Removal {
    /// The binding goes.
    Remove,
    /// Only the request `sender` relays ends.
    EndPending,
    /// Nothing: `sender` is not authoritative for it.
    Nothing,
}

/// A replicated removal only removes what its sender is authoritative for: a temporary binding
/// it relays, a permanent one it serves (of one it does not, only the request it relays); never
/// a binding this HA (`node`) serves.
pub(super) fn removal(b: &Binding, node: NodeId, sender: NodeId) -> Removal {
    if b.second_ha == node {
        return Removal::Nothing;
    }
    let relays = b.pending.as_ref().is_some_and(|p| p.first_ha == sender);
    match b.state() {
        BindingState::Temporary if relays => Removal::Remove,
        BindingState::Permanent if b.second_ha == sender => Removal::Remove,
        BindingState::Permanent if relays => Removal::EndPending,
        _ => Removal::Nothing,
    }
}

/// The end of `sender`'s bulk sync: the replicas it is authoritative for (it serves them, or
/// relays their pending request) that it did not name (`seen`). Never what this HA (`node`)
/// serves, nor a binding it relays as first HA (it learnt that one first-hand, from the second
/// HA's reply, possibly after the sender's snapshot: it ends with its own lifetime or the
/// deregistration this HA relays).
pub(super) fn stale(
    table: &BindingTable,
    node: NodeId,
    sender: NodeId,
    seen: &HashSet<u32>,
) -> Vec<u32> {
    table
        .iter()
        .filter(|(s, b)| {
            let mine = b.second_ha == node
                || b.first_ha == node
                || b.pending.as_ref().is_some_and(|p| p.first_ha == node);
            let from_sender = match b.state() {
                BindingState::Temporary => b.pending.as_ref().is_some_and(|p| p.first_ha == sender),
                BindingState::Permanent => b.second_ha == sender,
            };
            !mine && from_sender && !seen.contains(s)
        })
        .map(|(s, _)| s)
        .collect()
}

/// Of the bindings this HA took over (`moved`) from a peer that kept its state, those the peer's
/// bulk sync no longer names (`seen`: it deregistered or they expired meanwhile) and that were
/// not re-registered here since (the identification then).
pub(super) fn gone(
    table: &BindingTable,
    node: NodeId,
    moved: &HashMap<MnKey, u64>,
    seen: &HashSet<u32>,
) -> Vec<u32> {
    moved
        .iter()
        .filter_map(|((h, n), id)| {
            let s = table.find(*h, n.as_deref())?;
            let b = table.get(s)?;
            (!seen.contains(&s) && b.second_ha == node && b.identification == *id).then_some(s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! The replication rules of the virtual HA (module docs of `mip`).
    use super::super::testkit::*;
    use super::*;

    /// "When two HAs both claim to serve a mobile node, the claim that wins is ... the newer
    /// registration (identification), else the lower node id": the loser yields.
    #[test]
    fn of_two_servers_the_newer_registration_then_the_lower_node_id_wins() {
        let t0 = Instant::now();
        let mut ha2 = ha(2, t0);
        // HA 2 serves mobile nodes 1 and 2 (a relay record naming it makes it the server).
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 2, 10)));
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(2, 1, 2, 10)));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        // An older claim by HA 3 loses; a newer one wins.
        ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 9)));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 11)));
        assert_eq!(server(&ha2, 1), Some(NodeId(3)));
        // Same registration: HA 3 (higher id) loses, HA 1 (lower id) wins.
        ha2.apply(t0, NodeId(3), Item::Upsert(permanent(2, 3, 3, 10)));
        assert_eq!(server(&ha2, 2), Some(NodeId(2)));
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(2, 1, 1, 10)));
        assert_eq!(server(&ha2, 2), Some(NodeId(1)));
    }

    /// "A replica older than the binding it would change changes nothing."
    #[test]
    fn a_replica_older_than_the_binding_changes_nothing() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 20)));
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 19)));
        let b = ha1.binding(home(1), None).unwrap();
        assert_eq!((b.second_ha, b.identification), (NodeId(2), 20));
    }

    /// "A replicated removal only removes what its sender is authoritative for."
    #[test]
    fn a_removal_only_removes_what_its_sender_serves() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
        let remove = || Item::Remove {
            home_address: home(1),
            nai: None,
        };
        ha1.apply(t0, NodeId(3), remove());
        assert_eq!(server(&ha1, 1), Some(NodeId(2)));
        ha1.apply(t0, NodeId(2), remove());
        assert_eq!(server(&ha1, 1), None);
    }

    /// "The bulk sync is authoritative: at the end the backup removes the sender's replicas it
    /// did not see ... an end for another epoch is ignored; bindings this HA serves itself are
    /// never swept."
    #[test]
    fn a_bulk_sync_end_sweeps_only_the_senders_unseen_replicas_of_its_epoch() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(2, 2, 2, 5)));
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(3, 2, 1, 5)));
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(4, 3, 3, 5)));
        assert_eq!(server(&ha1, 3), Some(NodeId(1)));
        ha1.apply(t0, NodeId(2), Item::SyncBegin { epoch: 7 });
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
        ha1.apply(t0, NodeId(2), Item::SyncEnd { epoch: 8 });
        assert!(
            server(&ha1, 2).is_some(),
            "an end of another epoch sweeps nothing"
        );
        ha1.apply(t0, NodeId(2), Item::SyncEnd { epoch: 7 });
        assert_eq!(server(&ha1, 1), Some(NodeId(2)));
        assert_eq!(server(&ha1, 2), None);
        assert_eq!(server(&ha1, 3), Some(NodeId(1)));
        assert_eq!(server(&ha1, 4), Some(NodeId(3)));
    }

    /// "... with a bulk sync when a backup (re)joins or falls too far behind (its queue
    /// overflows)": the queue is dropped, takeover decisions excepted, and a bulk sync starts.
    #[test]
    fn a_replication_queue_overflow_falls_back_to_a_bulk_sync() {
        let mut ch = Channel::default();
        let takeover = Item::Takeover {
            failed: NodeId(3),
            owner: NodeId(1),
            coordinator: NodeId(1),
        };
        ch.enqueue(Item::Upsert(permanent(1, 1, 1, 5)), 3);
        ch.enqueue(takeover.clone(), 3);
        ch.enqueue(Item::Upsert(permanent(2, 1, 1, 5)), 3);
        assert_eq!(ch.bulk, BulkSync::Idle);
        ch.enqueue(Item::Upsert(permanent(3, 1, 1, 5)), 3);
        assert_eq!(ch.bulk, BulkSync::Start);
        assert_eq!(ch.queue, [takeover]);
        // The next batch opens the sync under a new epoch.
        let t0 = Instant::now();
        let table = ha(1, t0).table;
        let (_, items) = ch
            .next_batch(&table, NodeId(1), NodeId(2), t0, Duration::from_secs(1))
            .unwrap();
        assert_eq!(items.first(), Some(&Item::SyncBegin { epoch: 1 }));
    }

    /// "An HA that a replica names as the server of a binding it did not serve takes it and
    /// says so, so a binding never ends up served by nobody."
    #[test]
    fn an_ha_named_as_server_takes_the_binding_and_says_so() {
        let t0 = Instant::now();
        let mut ha2 = ha(2, t0);
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 2, 10)));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        for peer in [NodeId(1), NodeId(3)] {
            let says = ha2.channels[&peer]
                .queue
                .iter()
                .any(|i| matches!(i, Item::Upsert(r) if r.home_address == home(1) && r.second_ha == NodeId(2)));
            assert!(says, "backup {peer:?} not told");
        }
    }

    /// "The claim that wins is the owner a takeover decided, else the newer registration":
    /// a decided owner wins even with an older identification; another HA's claim loses and
    /// this HA re-asserts its binding.
    #[test]
    fn a_decided_owner_wins_a_claim_whatever_the_identification() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 1, 20)));
        let b = ha1.binding(home(1), None).unwrap();
        let older = permanent(1, 3, 3, 5);
        assert!(matches!(
            claim(b, NodeId(1), NodeId(3), &older, Some(NodeId(3))),
            Claim::Yield { .. }
        ));
        assert_eq!(
            claim(b, NodeId(1), NodeId(3), &older, Some(NodeId(2))),
            Claim::Keep {
                reassert: true,
                end_pending: false
            }
        );
    }

    /// "Bindings taken over from a peer seen alive again with its state ... are checked against
    /// that peer's next bulk sync: those it no longer holds at all, and that were not
    /// re-registered here since, are removed."
    #[test]
    fn a_returned_binding_goes_only_if_the_peer_no_longer_holds_it_and_it_is_unchanged() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 1, 5)));
        let slot = ha1.table.find(home(1), None).unwrap();
        let moved: HashMap<MnKey, u64> = [((home(1), None), 5)].into_iter().collect();
        let none = HashSet::new();
        assert_eq!(gone(&ha1.table, NodeId(1), &moved, &none), vec![slot]);
        let seen: HashSet<u32> = [slot].into_iter().collect();
        assert!(gone(&ha1.table, NodeId(1), &moved, &seen).is_empty());
        let older: HashMap<MnKey, u64> = [((home(1), None), 4)].into_iter().collect();
        assert!(gone(&ha1.table, NodeId(1), &older, &none).is_empty());
    }
}
