//! Replication to the backups: per-peer channels, bulk sync, applying replicas.

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
}

impl HomeAgent {
    // ----- replication -----

    pub(super) fn backups(&self) -> Vec<NodeId> {
        self.members
            .get(&self.node)
            .map(|m| m.backups.clone())
            .unwrap_or_default()
    }

    /// The binding in `slot` as a replica (remaining times measured from `now`).
    pub(super) fn record(&self, slot: u32, now: Instant) -> Option<Record> {
        let b = self.table.get(slot)?;
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

    pub(super) fn enqueue(&mut self, peer: NodeId, item: Item) {
        let max = self.max_queue;
        if let Some(ch) = self.channels.get_mut(&peer) {
            if ch.queue.len() >= max {
                // Too far behind: drop the queue and resynchronise in bulk (authoritative: the
                // sync also removes what the dropped removals would have). Takeover decisions are
                // not table state: they stay queued (a few per failed member at most).
                ch.queue.retain(|i| matches!(i, Item::Takeover { .. }));
                if ch.queue.len() >= max {
                    ch.queue.clear();
                }
                ch.restart_bulk();
                if matches!(item, Item::Takeover { .. }) {
                    ch.queue.push_back(item);
                }
            } else {
                ch.queue.push_back(item);
            }
        }
    }

    pub(super) fn replicate_slot(&mut self, slot: u32, now: Instant) {
        if self
            .members
            .get(&self.node)
            .is_none_or(|m| m.backups.is_empty())
        {
            return;
        }
        let Some(r) = self.record(slot, now) else {
            return;
        };
        // Replicate what this HA is authoritative for: what it serves, or what it relays.
        if r.second_ha != self.node && r.first_ha != self.node {
            return;
        }
        for peer in self.backups() {
            self.enqueue(peer, Item::Upsert(r.clone()));
        }
        self.pump(now);
    }

    /// Sends the binding in `slot` to the backups whoever serves it (a handover).
    pub(super) fn replicate_record(&mut self, slot: u32, now: Instant) {
        let Some(r) = self.record(slot, now) else {
            return;
        };
        for peer in self.backups() {
            self.enqueue(peer, Item::Upsert(r.clone()));
        }
    }

    pub(super) fn replicate_remove(&mut self, home_address: Ipv4Addr, nai: Option<Box<[u8]>>) {
        for peer in self.backups() {
            self.enqueue(
                peer,
                Item::Remove {
                    home_address,
                    nai: nai.clone(),
                },
            );
        }
    }

    /// Sends the next batch to every peer with nothing in flight.
    pub(super) fn pump(&mut self, now: Instant) {
        let peers: Vec<NodeId> = self.channels.keys().copied().collect();
        for peer in peers {
            if self.peer_state(peer) != NodeState::Up {
                continue;
            }
            let Some(ch) = self.channels.get(&peer) else {
                continue;
            };
            if ch.inflight.is_some() {
                continue;
            }
            let mut items = Vec::new();
            // Bulk sync first (SyncBegin, a cursor over the table, SyncEnd), then the queue.
            let mut bulk = ch.bulk;
            let mut epoch = ch.epoch;
            while items.len() < cluster::MAX_ITEMS {
                match bulk {
                    BulkSync::Idle => break,
                    BulkSync::Start => {
                        epoch = epoch.wrapping_add(1);
                        items.push(Item::SyncBegin { epoch });
                        bulk = BulkSync::Walk(0);
                    }
                    BulkSync::Walk(c) => match self.table.next_slot(c) {
                        Some(s) => {
                            if let Some(r) = self.record(s, now) {
                                if r.second_ha == self.node || r.first_ha == self.node {
                                    items.push(Item::Upsert(r));
                                } else if r.second_ha == peer
                                    && r.binding_state() == BindingState::Permanent
                                {
                                    items.push(Item::Holds {
                                        home_address: r.home_address,
                                        nai: r.nai,
                                    });
                                }
                            }
                            bulk = s.checked_add(1).map_or(BulkSync::Finish, BulkSync::Walk);
                        }
                        None => bulk = BulkSync::Finish,
                    },
                    BulkSync::Finish => {
                        items.push(Item::SyncEnd { epoch });
                        bulk = BulkSync::Idle;
                    }
                }
            }
            let Some(ch) = self.channels.get_mut(&peer) else {
                continue;
            };
            ch.bulk = bulk;
            ch.epoch = epoch;
            while items.len() < cluster::MAX_ITEMS {
                match ch.queue.pop_front() {
                    Some(i) => items.push(i),
                    None => break,
                }
            }
            if items.is_empty() {
                continue;
            }
            ch.next_seq += 1;
            let seq = ch.next_seq;
            ch.inflight = Some(Inflight {
                seq,
                items: items.clone(),
                deadline: now + self.rto,
                timeout: self.rto,
            });
            self.send_cluster(peer, Body::Replicate { seq, items });
        }
    }

    pub(super) fn retransmit(&mut self, now: Instant) {
        let peers: Vec<NodeId> = self.channels.keys().copied().collect();
        let max_rto = self.rto.saturating_mul(8);
        for peer in peers {
            let up = self.peer_state(peer) == NodeState::Up;
            let Some(ch) = self.channels.get_mut(&peer) else {
                continue;
            };
            let Some(inf) = ch.inflight.as_mut() else {
                continue;
            };
            if inf.deadline > now {
                continue;
            }
            if !up {
                // The peer is not Up: keep the batch for when it is (bulk sync then covers it).
                inf.deadline = now + max_rto;
                continue;
            }
            inf.timeout = inf.timeout.saturating_mul(2).min(max_rto);
            inf.deadline = now + inf.timeout;
            let (seq, items) = (inf.seq, inf.items.clone());
            self.send_cluster(peer, Body::Replicate { seq, items });
        }
    }

    /// Applies one replicated item from `sender`.
    pub(super) fn apply(&mut self, now: Instant, sender: NodeId, item: Item) {
        self.stats.replicas_applied += 1;
        match item {
            Item::Upsert(r) => self.apply_replica(now, sender, r),
            Item::Remove { home_address, nai } => self.apply_remove(sender, home_address, nai),
            Item::Takeover {
                failed,
                owner,
                coordinator,
            } => self.take_over(now, failed, owner, coordinator, Some(sender)),
            Item::SyncBegin { epoch } => self.begin_sync(sender, epoch),
            Item::SyncEnd { epoch } => self.end_sync(sender, epoch),
            Item::Holds { home_address, nai } => {
                if let Some(sync) = self
                    .channels
                    .get_mut(&sender)
                    .and_then(|c| c.sync_in.as_mut())
                    && let Some(s) = self.table.find(home_address, nai.as_deref())
                {
                    sync.seen.insert(s);
                }
            }
        }
        self.update_load();
    }

    /// A replicated binding. A late replica naming an HA already taken over names the decided
    /// owner (which replicates it as its own).
    fn apply_replica(&mut self, now: Instant, sender: NodeId, mut r: Record) {
        let key = (r.home_address, r.nai.clone());
        let mut taken = false;
        let cap = self.table.max_bindings();
        if r.binding_state() == BindingState::Permanent
            && r.second_ha != sender
            && let Some(d) = self.takeovers.get_mut(&r.second_ha)
        {
            let failed = r.second_ha;
            if d.moved.len() < cap {
                d.moved.insert(key.clone(), r.identification);
            }
            r.second_ha = d.owner;
            if r.first_ha == failed {
                r.first_ha = d.owner;
            }
            taken = d.owner == self.node;
        }
        self.apply_upsert(now, sender, r, taken);
        if taken && let Some(s) = self.table.find(key.0, key.1.as_deref()) {
            self.replicate_slot(s, now);
        }
        // Seen in the sender's bulk sync (if one is open): not swept at its end.
        if let Some(sync) = self
            .channels
            .get_mut(&sender)
            .and_then(|c| c.sync_in.as_mut())
            && let Some(s) = self.table.find(key.0, key.1.as_deref())
        {
            sync.seen.insert(s);
        }
    }

    /// A replicated removal: only what the sender is authoritative for goes: a temporary
    /// binding it relays, a permanent one it serves (of one it does not, only the request it
    /// relays).
    fn apply_remove(&mut self, sender: NodeId, home_address: Ipv4Addr, nai: Option<Box<[u8]>>) {
        let node = self.node;
        let Some(s) = self.table.find(home_address, nai.as_deref()) else {
            return;
        };
        let Some(b) = self.table.get(s).filter(|b| b.second_ha != node) else {
            return;
        };
        let relays = b.pending.as_ref().is_some_and(|p| p.first_ha == sender);
        match b.state() {
            BindingState::Temporary if relays => {
                self.table.remove(s);
            }
            BindingState::Permanent if b.second_ha == sender => {
                self.table.remove(s);
            }
            BindingState::Permanent if relays => {
                let _ = self.table.update(s, |b| b.pending = None);
            }
            _ => {}
        }
    }

    /// `sender` begins a bulk sync: it is alive, whatever health said.
    fn begin_sync(&mut self, sender: NodeId, epoch: u32) {
        self.forget_takeover(sender);
        let incarnation = self.windows.get(&sender).map(ReplayWindow::incarnation);
        if self
            .returned
            .get(&sender)
            .is_some_and(|r| Some(r.incarnation) != incarnation)
        {
            // It restarted: its state is gone, the takeover stands.
            self.returned.remove(&sender);
        }
        if let Some(ch) = self.channels.get_mut(&sender) {
            // A newer sync replaces one left unfinished.
            ch.sync_in = Some(SyncIn {
                epoch,
                seen: HashSet::new(),
            });
        }
    }

    /// Ends the bulk sync `epoch` from `sender`: removes the replicas `sender` is authoritative
    /// for (it serves them, or relays their pending request) that it did not name since the sync
    /// began. Never what this HA serves, nor a binding this HA relays as first HA (it learnt that
    /// one first-hand, from the second HA's reply, possibly after the sender's snapshot: it ends
    /// with its own lifetime or the deregistration this HA relays).
    pub(super) fn end_sync(&mut self, sender: NodeId, epoch: u32) {
        let Some(ch) = self.channels.get_mut(&sender) else {
            return;
        };
        if ch.sync_in.as_ref().is_none_or(|s| s.epoch != epoch) {
            return;
        }
        let Some(sync) = ch.sync_in.take() else {
            return;
        };
        let node = self.node;
        let stale: Vec<u32> = self
            .table
            .iter()
            .filter(|(s, b)| {
                let mine = b.second_ha == node
                    || b.first_ha == node
                    || b.pending.as_ref().is_some_and(|p| p.first_ha == node);
                let from_sender = match b.state() {
                    BindingState::Temporary => {
                        b.pending.as_ref().is_some_and(|p| p.first_ha == sender)
                    }
                    BindingState::Permanent => b.second_ha == sender,
                };
                !mine && from_sender && !sync.seen.contains(s)
            })
            .map(|(s, _)| s)
            .collect();
        for s in stale {
            self.table.remove(s);
        }
        // What this HA took over from the sender while it was thought Down, and the sender
        // (same incarnation) no longer holds at all (deregistered or expired meanwhile), unless
        // re-registered here since. What it still holds naming this HA came as Holds.
        let Some(returned) = self.returned.remove(&sender) else {
            return;
        };
        if Some(returned.incarnation) != self.windows.get(&sender).map(ReplayWindow::incarnation) {
            return;
        }
        for ((h, n), id) in returned.moved {
            if let Some(s) = self.table.find(h, n.as_deref())
                && !sync.seen.contains(&s)
                && self
                    .table
                    .get(s)
                    .is_some_and(|b| b.second_ha == node && b.identification == id)
                && let Some(b) = self.table.remove(s)
            {
                self.replicate_remove(b.home_address, b.nai);
            }
        }
    }

    /// When a lifetime granted elsewhere, `left` from `now` (`None`: infinite), ends here:
    /// never later than `max_lifetime` from `now` (RFC 5944 section 3.8.3: no lifetime beyond
    /// what this home agent grants).
    pub(super) fn bounded_expiry(&self, now: Instant, left: Option<Duration>) -> Option<Instant> {
        if self.max_lifetime == LIFETIME_INFINITE {
            return left.map(|d| now + d);
        }
        let max = Duration::from_secs(u64::from(self.max_lifetime));
        Some(now + left.map_or(max, |d| d.min(max)))
    }

    /// `decided`: the record was re-pointed to this HA by a takeover decision.
    pub(super) fn apply_upsert(&mut self, now: Instant, sender: NodeId, r: Record, decided: bool) {
        let slot = self.table.find(r.home_address, r.nai.as_deref());
        let care_of = match &r.state {
            RecordState::Temporary {
                care_of,
                pending_left,
            } => return self.apply_temporary(now, slot, &r, *care_of, *pending_left),
            RecordState::Permanent { care_of } => self.bounded_care_of(now, care_of),
        };
        let node = self.node;
        // A record naming this HA as the server of a binding it does not serve (a first HA's
        // relay record, a handover): this HA serves it now and says so, so that any other HA
        // that claims it resolves the claim with it (never a binding nobody serves).
        let becomes_server = r.second_ha == node
            && !decided
            && slot
                .and_then(|s| self.table.get(s))
                .is_none_or(|b| b.second_ha != node);
        let mut yielded = false;
        let res = match slot {
            Some(s) => {
                match self.resolve_claim(now, s, sender, &r) {
                    Claim::Keep => return,
                    Claim::Yield => yielded = true,
                    Claim::Take => {}
                }
                self.table
                    .update(s, |b| {
                        b.home_address = r.home_address;
                        if r.nai.is_some() {
                            b.nai = r.nai.clone();
                        }
                        b.first_ha = r.first_ha;
                        b.second_ha = r.second_ha;
                        b.fa = sock4(r.fa);
                        b.identification = b.identification.max(r.identification);
                        b.care_of = care_of;
                        if b.pending.as_ref().is_some_and(|p| p.first_ha == sender) {
                            b.pending = None;
                        }
                    })
                    .map(|_| s)
            }
            None => self.table.insert(Binding {
                home_address: r.home_address,
                nai: r.nai,
                first_ha: r.first_ha,
                second_ha: r.second_ha,
                fa: sock4(r.fa),
                identification: r.identification,
                care_of,
                pending: None,
            }),
        };
        match res {
            Err(_) => self.stats.replicas_refused += 1,
            Ok(s) if yielded => self.replicate_record(s, now),
            Ok(s) if becomes_server => self.replicate_slot(s, now),
            Ok(_) => {}
        }
    }

    /// A replicated temporary binding: the pending request of its first HA. A replica waits no
    /// longer than a local request would (`pending_timeout`).
    fn apply_temporary(
        &mut self,
        now: Instant,
        slot: Option<u32>,
        r: &Record,
        care_of: Ipv4Addr,
        left: Duration,
    ) {
        let pending = Box::new(Pending {
            fa: sock4(r.fa),
            care_of,
            identification: r.identification,
            second_ha: r.second_ha,
            deadline: now + left.min(self.pending_timeout),
            simultaneous: false,
            first_ha: r.first_ha,
            stage: PendingStage::Forwarded,
        });
        let res = self.hold_pending(slot, r.home_address, r.nai.clone(), pending);
        if res.is_err() {
            self.stats.replicas_refused += 1;
        }
    }

    /// A replica is held to this HA's own bounds, as a local registration is (RFC 5944
    /// section 3.8.3: no more simultaneous bindings than supported, no lifetime beyond what
    /// the home agent grants): the first `max_simultaneous` distinct care-of addresses, each
    /// lifetime cut to `max_lifetime`.
    fn bounded_care_of(&self, now: Instant, care_of: &[(Ipv4Addr, Option<Duration>)]) -> CareOfs {
        let mut out = CareOfs::default();
        for &(a, left) in care_of {
            if out.len() >= self.max_simultaneous {
                break;
            }
            if out.contains(a) {
                continue;
            }
            out.push(CareOf {
                address: a,
                expires: self.bounded_expiry(now, left),
            });
        }
        out
    }

    /// Whether a replica from `sender` may change the binding in `slot`. Never what this HA
    /// serves itself, unless the sender claims to serve it too and wins: the owner a takeover
    /// decided, else the newer registration (identification), else the lower node id. A winner
    /// re-asserts its binding, so the loser and the other replicas converge on it.
    fn resolve_claim(&mut self, now: Instant, s: u32, sender: NodeId, r: &Record) -> Claim {
        let node = self.node;
        let Some(b) = self.table.get(s) else {
            return Claim::Take;
        };
        if b.second_ha == node && r.second_ha != node {
            let wins = r.second_ha == sender
                && match self.decided_owner(r.home_address, r.nai.as_deref()) {
                    Some(o) => o == sender,
                    None => (r.identification, Reverse(sender)) > (b.identification, Reverse(node)),
                };
            if !wins {
                if r.second_ha == sender {
                    self.replicate_slot(s, now);
                }
                return Claim::Keep;
            }
            // Yield: an address this HA assigned goes back to its pool, and the backups learn
            // who serves the binding now.
            if b.home_address != r.home_address {
                let old = b.home_address;
                self.allocated.remove(&old);
            }
            return Claim::Yield;
        }
        // A replica older than the binding here changes nothing and makes nobody server:
        // replication from two senders is not ordered (a first HA's relay record queued before
        // a newer registration elsewhere).
        if b.identification > r.identification {
            let _ = self.table.update(s, |b| {
                if b.pending.as_ref().is_some_and(|p| p.first_ha == sender) {
                    b.pending = None;
                }
            });
            return Claim::Keep;
        }
        Claim::Take
    }
}

/// What a replica does to a binding this HA holds.
enum Claim {
    /// Nothing: this HA's binding stands.
    Keep,
    /// It replaces the binding this HA served: this HA yields and re-replicates it.
    Yield,
    /// It replaces the binding.
    Take,
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
}
