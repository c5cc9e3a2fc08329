//! The orchestrator's replication: it feeds the per-peer [`Channel`]s, sends the batches they
//! return and applies replicated items to its table by the rules of `replicate.rs`.

use super::replicate::{self, Claim, Removal};
use super::takeover::{Displaced, MnKey};
use super::*;
use crate::replica::Entry;

impl HomeAgent {
    pub(super) fn backups(&self) -> Vec<NodeId> {
        self.members
            .get(&self.node)
            .map(|m| m.backups.clone())
            .unwrap_or_default()
    }

    pub(super) fn enqueue(&mut self, peer: NodeId, item: Item) {
        self.channels.enqueue(peer, item, self.max_queue);
    }

    /// Replicates the binding in `slot` when this HA is authoritative for it: it serves it, or
    /// relays it.
    pub(super) fn replicate_slot(&mut self, slot: u32, now: Instant) {
        if !self.has_backups {
            return;
        }
        let Some(mut r) = replicate::record(&self.table, slot, now) else {
            return;
        };
        if r.second_ha != self.node && r.first_ha != self.node {
            return;
        }
        r.key = self.sealer.seal(self.aaa.as_ref(), now, &r);
        r.revocation = self.revocations.negotiated_for(r.home_address);
        for peer in self.backups() {
            self.enqueue(peer, Item::Upsert(r.clone()));
        }
        self.pump(now);
    }

    /// Sends the binding in `slot` to the backups whoever serves it (a handover).
    pub(super) fn replicate_record(&mut self, slot: u32, now: Instant) {
        let Some(mut r) = replicate::record(&self.table, slot, now) else {
            return;
        };
        r.key = self.sealer.seal(self.aaa.as_ref(), now, &r);
        r.revocation = self.revocations.negotiated_for(r.home_address);
        for peer in self.backups() {
            self.enqueue(peer, Item::Upsert(r.clone()));
        }
    }

    /// This HA, the server of `b`, removed it (revoked, deregistered) at `now`, its lifetime to
    /// end at `until`: the removal goes to the backups, and is remembered against late replicas
    /// of it (`removed.rs`).
    pub(super) fn remove_served(&mut self, now: Instant, b: &Binding, until: Option<Instant>) {
        self.stats.removed_evicted += self.removed.insert(now, b, until, self.node);
        self.replicate_remove(b.home_address, b.nai().map(Box::from));
    }

    /// Restarts the bulk sync to `peer` (it is seen Up again). The batch in flight is kept and
    /// sent again at once, the sync after it ([`crate::replica::Channel::restart_bulk`]), so the
    /// removals it carries reach the peer once: the sync's end sweeps the replicas it does not
    /// name, but not a copy the peer relays as first HA (`replicate::stale`), which only the
    /// removal ends.
    pub(super) fn restart_bulk(&mut self, peer: NodeId) {
        if let Some(ch) = self.channels.get_mut(&peer) {
            ch.restart_bulk();
        }
    }

    pub(super) fn replicate_remove(&mut self, home_address: Ipv4Addr, nai: Option<Box<[u8]>>) {
        for peer in self.backups() {
            let nai = nai.clone();
            self.enqueue(peer, Item::Remove { home_address, nai });
        }
    }

    /// This HA accepted a deregistration of `care_of` (`None`: all the care-of addresses) of
    /// `home_address` (Identification `identification`) that another member serves, or that it
    /// did not hold: the backups remove what they hold of it ([`Item::Deregistered`]).
    pub(super) fn replicate_deregistered(
        &mut self,
        home_address: Ipv4Addr,
        nai: Option<Box<[u8]>>,
        identification: u64,
        care_of: Option<Ipv4Addr>,
    ) {
        for peer in self.backups() {
            let nai = nai.clone();
            let item = Item::Deregistered {
                home_address,
                nai,
                identification,
                care_of,
            };
            self.enqueue(peer, item);
        }
    }

    /// Sends the next batch to every Up peer with nothing in flight.
    pub(super) fn pump(&mut self, now: Instant) {
        let up = self.up_peers();
        let (table, node) = (&self.table, self.node);
        let aaa = self.aaa.as_ref();
        let (sealer, revocations) = (&mut self.sealer, &self.revocations);
        let walk = |peer, c| replicate::walk(table, aaa, sealer, revocations, node, peer, now)(c);
        for (peer, seq, items) in self.channels.pump(now, self.rto, |p| up.contains(&p), walk) {
            self.send_cluster(peer, Body::Replicate { seq, items });
        }
    }

    pub(super) fn retransmit(&mut self, now: Instant) {
        let up = self.up_peers();
        let max_rto = self.rto.saturating_mul(8);
        for (peer, seq, items) in self.channels.due(now, max_rto, |p| up.contains(&p)) {
            self.send_cluster(peer, Body::Replicate { seq, items });
        }
    }

    /// The peers health sees Up.
    fn up_peers(&self) -> Vec<NodeId> {
        let peers = self.channels.iter().map(|(p, _)| p);
        peers
            .filter(|p| self.peer_state(*p) == NodeState::Up)
            .collect()
    }

    /// Applies one replicated item or bulk-sync marker from `sender`.
    pub(super) fn apply(&mut self, now: Instant, sender: NodeId, entry: impl Into<Entry<Item>>) {
        self.stats.replicas_applied += 1;
        match entry.into() {
            Entry::Item(Item::Upsert(r)) => self.apply_replica(now, sender, r),
            Entry::Item(Item::Remove { home_address, nai }) => {
                self.apply_remove(now, sender, home_address, nai)
            }
            Entry::Item(Item::Takeover {
                failed,
                owner,
                coordinator,
            }) => self.take_over(now, failed, owner, coordinator, Some(sender)),
            Entry::SyncBegin { epoch } => {
                self.takeover_sync_begun(now, sender);
                if let Some(ch) = self.channels.get_mut(&sender) {
                    ch.begin_sync(epoch);
                }
            }
            Entry::SyncEnd { epoch } => self.end_sync(sender, epoch),
            Entry::Item(Item::Deregistered {
                home_address,
                nai,
                identification,
                care_of,
            }) => {
                let nai = nai.as_deref();
                self.apply_deregistered(now, sender, home_address, nai, identification, care_of)
            }
            Entry::Item(Item::Holds { home_address, nai }) => {
                if let Some(s) = self.table.find(home_address, nai.as_deref())
                    && let Some(ch) = self.channels.get_mut(&sender)
                {
                    ch.mark_seen(&[s]);
                }
            }
        }
        self.update_load();
    }

    /// A replicated binding. A late replica naming an HA already taken over names the decided
    /// owner (which replicates it as its own).
    fn apply_replica(&mut self, now: Instant, sender: NodeId, mut r: Record) {
        let key = (r.home_address, r.nai.clone());
        if self.stale_replica(now, sender, &r, &key) {
            return;
        }
        self.takeover.owner_says(&r, sender);
        let cap = self.table.max_bindings();
        let named = r.second_ha;
        let taken = self.takeover.redirect(&mut r, sender, self.node, cap);
        let before = self.table.find(key.0, key.1.as_deref());
        let held_id = before
            .and_then(|s| self.table.get(s))
            .map(|b| b.identification);
        // The serving member negotiated revocation: its word on it stands (a first HA's relay
        // record does not know). Negotiation belongs to a registration (RFC 3543 section 3): a
        // record of an older registration says nothing of it, and one of the registration held
        // may predate the negotiation (replicated before its reply was built, and replayed
        // from the sender's queue after a bulk sync that already carried the negotiation):
        // only a newer registration's record takes it away.
        let newer = held_id.is_none_or(|id| r.identification > id);
        let same = held_id == Some(r.identification);
        if r.second_ha == sender {
            if newer || (same && r.revocation.is_some()) {
                self.revocations
                    .hold_replicated(r.home_address, sock4(r.fa), r.revocation);
            }
        } else if r.revocation.is_some()
            && self.revocations.negotiated_for(r.home_address).is_none()
        {
            // A relaying first HA passes on what the serving member replicated to it: taken when
            // this HA has heard nothing from the server itself (a member that rejoined gets its
            // bulk sync from whoever holds the binding). Its silence removes nothing.
            self.revocations
                .hold_replicated(r.home_address, sock4(r.fa), r.revocation);
        }
        let server_before = before.and_then(|s| self.table.get(s)).map(|b| b.second_ha);
        self.takeover.replica_of(&key, sender);
        let displaced = self.displaced_by(before, sender, &r);
        let identification = r.identification;
        self.apply_upsert(now, sender, r, taken);
        let mut slot = self.table.find(key.0, key.1.as_deref());
        if let Some(d) = displaced
            && slot
                .and_then(|s| self.table.get(s))
                .is_some_and(|b| b.second_ha == sender && b.identification == identification)
        {
            let cap = self.table.max_bindings();
            if !self.takeover.displace(key.clone(), d, cap) {
                self.stats.displaced_not_noted += 1;
            }
        }
        if taken && let Some(s) = slot {
            // Taken over here from `named`: revoked after the grace if this HA cannot serve it
            // (`revoke.rs`), replicated as this HA's own meanwhile.
            self.revoke_unservable_after_grace(now, &[s], named);
            slot = self.table.find(key.0, key.1.as_deref());
            if let Some(s) = slot {
                self.replicate_slot(s, now);
            }
        } else if let Some(s) = slot
            && server_before != Some(self.node)
            && self.table.get(s).is_some_and(|b| b.second_ha == self.node)
        {
            // A replica made this HA the server (a takeover decided elsewhere, a handover): what
            // it cannot serve is revoked after the grace too, as if taken over from the server
            // it had before.
            self.revoke_unservable_after_grace(now, &[s], server_before.unwrap_or(sender));
            slot = self.table.find(key.0, key.1.as_deref());
        }
        // Seen in the sender's bulk sync (if one is open): not swept at its end.
        if let Some(s) = slot
            && let Some(ch) = self.channels.get_mut(&sender)
        {
            ch.mark_seen(&[s]);
        }
    }

    /// What the binding in `slot` names, when the replica `r` from `sender` is to re-point it
    /// away from a live server that wins the claim ([`replicate::displaces`]).
    fn displaced_by(&self, slot: Option<u32>, sender: NodeId, r: &Record) -> Option<Displaced> {
        let b = self.table.get(slot?)?;
        let decided = self
            .takeover
            .decided_owner(r.home_address, r.nai.as_deref());
        let alive = self.peer_state(b.second_ha) != NodeState::Down;
        replicate::displaces(b, self.node, sender, r, decided, alive).then_some(Displaced {
            by: sender,
            second_ha: b.second_ha,
            first_ha: b.first_ha,
            identification: b.identification,
        })
    }

    /// A replica, from `sender`, of a binding this HA does not hold and that its server removed
    /// ([`replicate::stale_replica`], `removed.rs`): it changes nothing (counted). This HA being
    /// that server, or named as it, it answers `sender` with the removal, so that a copy
    /// `sender` still holds (or serves, having taken it over) goes too.
    fn stale_replica(&mut self, now: Instant, sender: NodeId, r: &Record, key: &MnKey) -> bool {
        let held = self.table.find(key.0, key.1.as_deref()).is_some();
        let removed = self.removed.covering(key, r.identification, now);
        if !replicate::stale_replica(held, sender, r, removed) {
            return false;
        }
        self.stats.replicas_stale += 1;
        let served_here = removed == Some(self.node);
        if r.second_ha == self.node || served_here {
            let (home_address, nai) = key.clone();
            self.enqueue(sender, Item::Remove { home_address, nai });
        }
        true
    }

    /// A replicated removal ([`replicate::removal`]), remembered when it removes the binding
    /// (`removed.rs`).
    fn apply_remove(
        &mut self,
        now: Instant,
        sender: NodeId,
        home_address: Ipv4Addr,
        nai: Option<Box<[u8]>>,
    ) {
        let Some(s) = self.table.find(home_address, nai.as_deref()) else {
            return;
        };
        let Some(b) = self.table.get(s) else {
            return;
        };
        let key = (home_address, nai);
        let taken_from_sender = self.takeover.taken_from(sender, self.node, &key);
        let removal = replicate::removal(b, self.node, sender, taken_from_sender);
        self.takeover.server_removed(&key, sender);
        match removal {
            Removal::Remove => {
                if let Some(b) = self.table.remove(s)
                    && b.state() == BindingState::Permanent
                {
                    let until = removed::lifetime_end(&b);
                    self.stats.removed_evicted += self.removed.insert(now, &b, until, sender);
                }
            }
            Removal::EndPending => {
                let _ = self.table.update(s, |b| b.set_pending(None));
            }
            Removal::RemoveServed => {
                // Served here: its tunnels go with it (RFC 5944 section 3.8.3), as the table
                // reports them.
                if let Some(b) = self.table.remove(s) {
                    let until = removed::lifetime_end(&b);
                    self.remove_served(now, &b, until);
                }
            }
            Removal::Nothing => {}
        }
    }

    /// A deregistration another member accepted (RFC 5944 section 3.8.3: the reply told the
    /// mobile node its binding, or that care-of address of it, is gone): in a binding held here
    /// that is older (identification), unless a newer request for it is pending here, the
    /// care-of address goes (`care_of`; section 3.6.1.3, simultaneous bindings), or all of them
    /// (`None`), and the binding with its last one; served here, with their tunnels
    /// ([`Event::Deregistered`]), and the change replicated as the server's (the binding
    /// changed, or its removal).
    fn apply_deregistered(
        &mut self,
        now: Instant,
        sender: NodeId,
        home_address: Ipv4Addr,
        nai: Option<&[u8]>,
        identification: u64,
        care_of: Option<Ipv4Addr>,
    ) {
        let Some(s) = self.table.find(home_address, nai) else {
            return;
        };
        let Some(b) = self.table.get(s) else {
            return;
        };
        let newer_pending = b
            .pending()
            .is_some_and(|p| p.identification >= identification);
        if b.identification >= identification
            || newer_pending
            || b.state() != BindingState::Permanent
        {
            return;
        }
        let served = b.second_ha == self.node;
        let until = removed::lifetime_end(b);
        // Served here, the tunnels to the care-of addresses removed go (the table reports them).
        let _ = self.table.update(s, |b| {
            b.identification = identification;
            if let Some(a) = care_of {
                b.care_of.retain(|c| c.address != a);
            }
        });
        if care_of.is_some() && self.table.get(s).is_some_and(|b| !b.care_of.is_empty()) {
            // Its other care-of addresses stay: the server replicates the binding as it is now.
            if served {
                self.replicate_slot(s, now);
            }
            return;
        }
        if served {
            self.retire(now, s, until);
        } else if let Some(b) = self.table.remove(s) {
            self.stats.removed_evicted += self.removed.insert(now, &b, until, sender);
        }
    }

    /// Ends the bulk sync `epoch` from `sender`: removes its unseen replicas
    /// ([`replicate::stale`]), then what this HA took over from it that it no longer holds
    /// ([`replicate::gone`]; what it still holds naming this HA came as [`Item::Holds`]), with
    /// their tunnels ([`Event::Deregistered`]).
    pub(super) fn end_sync(&mut self, sender: NodeId, epoch: u32) {
        let Some(seen) = self
            .channels
            .get_mut(&sender)
            .and_then(|c| c.end_sync(epoch))
        else {
            return;
        };
        // The bindings the sender no longer holds: no claim displaced it from them.
        let table = &self.table;
        self.takeover.server_synced(sender, |(h, n)| {
            table
                .find(*h, n.as_deref())
                .is_some_and(|s| seen.contains(&s))
        });
        for s in replicate::stale(&self.table, self.node, sender, &seen) {
            // Re-pointed here by the sender's claim away from a live server that wins it, and
            // unchanged since: the sender gave it back, the server holds it (`displaces`).
            let Some((key, id)) = self
                .table
                .get(s)
                .map(|b| ((b.home_address, b.nai().map(Box::from)), b.identification))
            else {
                continue;
            };
            let back = self.takeover.displaced(&key, sender).filter(|d| {
                d.identification == id && self.peer_state(d.second_ha) != NodeState::Down
            });
            match back {
                Some(d) => {
                    let _ = self.table.update(s, |b| {
                        b.second_ha = d.second_ha;
                        b.first_ha = d.first_ha;
                    });
                }
                None => {
                    self.table.remove(s);
                }
            }
        }
        let incarnation = self.windows.get(&sender).map(ReplayWindow::incarnation);
        let Some(moved) = self.takeover.take_returned(sender, incarnation) else {
            return;
        };
        for s in replicate::gone(&self.table, self.node, &moved, &seen) {
            // Served here since the takeover: its tunnels go with it (RFC 5944 section 3.8.3:
            // the peer no longer holds it, deregistered or expired meanwhile), as the table
            // reports them.
            if let Some(b) = self.table.remove(s) {
                let nai = b.nai().map(Box::from);
                self.replicate_remove(b.home_address, nai);
            }
        }
    }

    /// When a lifetime granted elsewhere, `left` from `now` (`None`: infinite), ends here:
    /// never later than `max_lifetime` from `now` (RFC 5944 section 3.8.3: no lifetime beyond
    /// what this home agent grants).
    pub(super) fn bounded_expiry(&self, now: Instant, left: Option<Duration>) -> Option<Instant> {
        self.bounded_left(left).map(|d| now + d)
    }

    /// [`HomeAgent::bounded_expiry`] as the time left from `now`.
    pub(super) fn bounded_left(&self, left: Option<Duration>) -> Option<Duration> {
        if self.max_lifetime == LIFETIME_INFINITE {
            return left;
        }
        let max = Duration::from_secs(u64::from(self.max_lifetime));
        Some(left.map_or(max, |d| d.min(max)))
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
        // What the update changes in the tunnels served here the table reports (RFC 5944
        // section 3.8.3): a binding yielded to the sender takes its tunnels here with it; a
        // record naming this HA the server brings the care-of addresses it lists, and those it
        // no longer lists were deregistered elsewhere (a partial deregistration another member
        // accepted, sections 3.6.1.3 and 3.8.2.2, which the first HA's record reflects).
        let mut yielded = false;
        let res = match slot {
            Some(s) => {
                match self.resolve_claim(now, s, sender, &r) {
                    Claim::Keep { .. } => return,
                    // The binding this HA served gives way to the sender's (a newer
                    // registration served there, or a decided owner).
                    Claim::Yield { .. } => yielded = true,
                    Claim::Take => {}
                }
                self.table
                    .update(s, |b| {
                        b.home_address = r.home_address;
                        if r.nai.is_some() {
                            b.set_nai(r.nai.clone());
                        }
                        b.first_ha = r.first_ha;
                        b.second_ha = r.second_ha;
                        b.fa = sock4(r.fa);
                        b.identification = b.identification.max(r.identification);
                        b.care_of = care_of;
                        if b.tunnel_params() != r.tunnel.as_ref() {
                            b.set_tunnel_params(r.tunnel);
                        }
                        if b.pending().is_some_and(|p| p.first_ha == sender) {
                            b.set_pending(None);
                        }
                    })
                    .map(|_| s)
            }
            None => {
                let mut b = Binding::new(
                    r.home_address,
                    r.first_ha,
                    r.second_ha,
                    sock4(r.fa),
                    r.identification,
                );
                b.care_of = care_of;
                b.set_nai(r.nai);
                b.set_tunnel_params(r.tunnel);
                self.table.insert(b)
            }
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
        let pending = Pending {
            fa: sock4(r.fa),
            care_of,
            identification: r.identification,
            second_ha: r.second_ha,
            deadline: now + left.min(self.pending_timeout),
            simultaneous: false,
            first_ha: r.first_ha,
            stage: PendingStage::Forwarded,
            tunnel: r.tunnel,
            reply_src: sock4(self.vip_sock()),
        };
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
            out.push(CareOf::new(a, self.bounded_expiry(now, left)));
        }
        out
    }

    /// Applies [`replicate::claim`] for a replica from `sender` of the binding in `s`: a winner
    /// re-asserts its binding, so the loser and the other replicas converge on it.
    fn resolve_claim(&mut self, now: Instant, s: u32, sender: NodeId, r: &Record) -> Claim {
        let Some(b) = self.table.get(s) else {
            return Claim::Take;
        };
        let decided = self
            .takeover
            .decided_owner(r.home_address, r.nai.as_deref());
        let c = replicate::claim(b, self.node, sender, r, decided);
        match c {
            Claim::Keep {
                reassert,
                end_pending,
            } => {
                if reassert {
                    self.replicate_slot(s, now);
                }
                if end_pending {
                    let _ = self.table.update(s, |b| {
                        if b.pending().is_some_and(|p| p.first_ha == sender) {
                            b.set_pending(None);
                        }
                    });
                }
            }
            Claim::Yield { release } => {
                if let Some(a) = release {
                    self.pool.release(&a);
                }
            }
            Claim::Take => {}
        }
        c
    }
}
