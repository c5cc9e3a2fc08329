//! Replication to the backups (module docs of `mip`): the mechanism is [`crate::replica`] (a
//! [`Channel`] per peer owns its sequence numbers, queue, batch in flight and bulk syncs both
//! ways and returns the batches to send); here are the Home Agent's rules: what a bulk sync says
//! of a binding ([`walk`]), and what a replica does to the binding it would change ([`claim`],
//! [`removal`], [`stale`], [`gone`]). The Home Agent applies what they decide (`apply.rs`).

use super::aaa::{Aaa, Sealer};
use super::revoke::Revocations;
use super::takeover::MnKey;
use super::*;

/// The replication channel with one peer: [`crate::replica::Channel`] over the HA's [`Item`]s,
/// keyed by binding table slot.
pub(super) type Channel = crate::replica::Channel<Item>;

/// The binding table as a bulk sync to `peer` walks it: from a cursor, the next slot in use and
/// what the sync says of its binding ([`bulk_item`]).
pub(super) fn walk<'a>(
    table: &'a BindingTable,
    aaa: Option<&'a Aaa>,
    sealer: &'a mut Sealer,
    revocations: &'a Revocations,
    node: NodeId,
    peer: NodeId,
    now: Instant,
) -> impl FnMut(u64) -> Option<(u64, Option<Item>)> + 'a {
    move |cursor| {
        let s = table.next_slot(u32::try_from(cursor).ok()?)?;
        let item = bulk_item(table, aaa, sealer, s, node, peer, now)
            .map(|i| with_revocation(i, revocations));
        Some((u64::from(s), item))
    }
}

/// What a bulk sync to `peer` says of the binding in `slot`: the binding itself when this HA
/// serves or relays it, [`Item::Holds`] when `peer` serves it (permanent), else nothing.
fn bulk_item(
    table: &BindingTable,
    aaa: Option<&Aaa>,
    sealer: &mut Sealer,
    slot: u32,
    node: NodeId,
    peer: NodeId,
    now: Instant,
) -> Option<Item> {
    let mut r = record(table, slot, now)?;
    if r.second_ha == node || r.first_ha == node {
        r.key = sealer.seal(aaa, now, &r);
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

/// An upsert with the revocation negotiated for its binding ([`Record::revocation`]).
fn with_revocation(i: Item, revocations: &Revocations) -> Item {
    match i {
        Item::Upsert(mut r) => {
            r.revocation = revocations.negotiated_for(r.home_address);
            Item::Upsert(r)
        }
        i => i,
    }
}

/// The binding in `slot` as a replica (remaining times measured from `now`), without its key
/// (sealed by the caller, [`Sealer::seal`]).
pub(super) fn record(table: &BindingTable, slot: u32, now: Instant) -> Option<Record> {
    let b = table.get(slot)?;
    if b.state() == BindingState::Temporary {
        let p = b.pending()?;
        return Some(Record {
            home_address: b.home_address,
            nai: b.nai().map(Box::from),
            first_ha: p.first_ha,
            second_ha: p.second_ha,
            fa: p.fa.into(),
            identification: p.identification,
            state: RecordState::Temporary {
                care_of: p.care_of,
                pending_left: p.deadline.saturating_duration_since(now),
            },
            tunnel: p.tunnel,
            key: None,
            revocation: None,
        });
    }
    let care_of = b
        .care_of
        .iter()
        .map(|c| {
            (
                c.address,
                c.expires().map(|e| e.saturating_duration_since(now)),
            )
        })
        .collect();
    Some(Record {
        home_address: b.home_address,
        nai: b.nai().map(Box::from),
        first_ha: b.first_ha,
        second_ha: b.second_ha,
        fa: b.fa.into(),
        identification: b.identification,
        state: RecordState::Permanent { care_of },
        tunnel: b.tunnel_params().copied(),
        key: None,
        revocation: None,
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

/// Whether the replica `r` from `sender` re-points `b`, held here (`node`) and served by another
/// member seen alive here (`server_alive`), to `sender` by its claim to serve the same
/// registration, a claim that the member `b` names wins by the two-servers rule as that member
/// applies it (module docs of `mip`: the owner a takeover decided, here none, else the lower
/// node id; an equal identification, so not the newer registration). That is a takeover of a
/// live member by one cut off from it (an asymmetric partition): the sender gives the binding
/// back when it hears the server, and should its handover be dropped with its queue, its next
/// bulk sync, no longer naming the binding, would sweep it here though its server holds it
/// (session 41, bulk sync seed 103); the binding then names its server again
/// (`HomeAgent::end_sync`).
pub(super) fn displaces(
    b: &Binding,
    node: NodeId,
    sender: NodeId,
    r: &Record,
    decided: Option<NodeId>,
    server_alive: bool,
) -> bool {
    let server = b.second_ha;
    server_alive
        && decided.is_none()
        && server != node
        && server < sender
        && r.second_ha == sender
        && r.identification == b.identification
        && b.state() == BindingState::Permanent
        && r.binding_state() == BindingState::Permanent
}

/// What a replicated removal from `sender` does to `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Removal {
    /// The binding goes.
    Remove,
    /// Only the request `sender` relays ends.
    EndPending,
    /// The binding goes, and this HA, serving it, removes it at its backups too.
    RemoveServed,
    /// Nothing: `sender` is not authoritative for it.
    Nothing,
}

/// A replicated removal only removes what its sender is authoritative for: a temporary binding
/// it relays, a permanent one it serves (of one it does not, only the request it relays); never
/// a binding this HA (`node`) serves, but one it took over from `sender` (`taken_from`: the
/// identification then, [`super::takeover::Takeovers::taken_from`]), seen Down but alive (a
/// false Down), that `sender` removed meanwhile (its foreign agent revoked it and was
/// acknowledged, RFC 3543 section 4.2; or it deregistered): of the registration taken over, not
/// re-registered here since, the removal stands, and this HA removes it at its backups too
/// (else its copy brings the binding back).
pub(super) fn removal(
    b: &Binding,
    node: NodeId,
    sender: NodeId,
    taken_from: Option<u64>,
) -> Removal {
    if b.second_ha == node {
        return if taken_from == Some(b.identification) {
            Removal::RemoveServed
        } else {
            Removal::Nothing
        };
    }
    let relays = b.pending().is_some_and(|p| p.first_ha == sender);
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
/// HA's reply, possibly after the sender's snapshot: it ends with its own lifetime, the
/// deregistration this HA relays, or the server's removal, which a bulk sync restarted while
/// it is in flight does not lose: `HomeAgent::restart_bulk`).
pub(super) fn stale(
    table: &BindingTable,
    node: NodeId,
    sender: NodeId,
    seen: &HashSet<u32>,
) -> Vec<u32> {
    let held = table.iter().filter_map(|(s, b)| {
        let mine = b.second_ha == node
            || b.first_ha == node
            || b.pending().is_some_and(|p| p.first_ha == node);
        let from_sender = match b.state() {
            BindingState::Temporary => b.pending().is_some_and(|p| p.first_ha == sender),
            BindingState::Permanent => b.second_ha == sender,
        };
        (!mine && from_sender).then_some(s)
    });
    crate::replica::sweep(held, seen)
}

/// Whether a replica `r` from `sender` of a binding this HA does not hold (`held` false) is
/// older than a removal by the binding's server that this HA made or applied (`removed`: the
/// removal covering the replica's identification, `Some(by)`, `by` the member that removed it
/// as its server, this HA or the one whose removal it applied; `removed.rs`). Neither case is
/// newer (a registration since has a newer identification): it comes from another member than
/// the server it names (a first HA's record of a binding it relays, sent before it applied the
/// removal; a handover); or the sender claims to serve the registration removed, and is not the
/// member that removed it (it took it over, from the remover seen Down while cut off or from a
/// takeover decided before the removal reached it, from a replica the removal had not reached:
/// bulk sync seed 689 at the remover; revocation seed 5236 at a member that applied the
/// removal). It changes nothing: taken, the removed binding would be served again (by its
/// server, "named as the server of a binding it did not serve"; by the claimant, whose takeover
/// this HA's next bulk sync would then name as held) or held here alone, naming a server that no
/// longer holds it. The remover's own replicas follow its removal in order on its channel.
pub(super) fn stale_replica(
    held: bool,
    sender: NodeId,
    r: &Record,
    removed: Option<NodeId>,
) -> bool {
    !held && removed.is_some_and(|by| r.second_ha != sender || by != sender)
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
    use crate::replica::{BulkSync, Entry};

    /// HA 2 serving mobile node 1 (HA 1's relay record names it), its events drained.
    fn serving_mn1(t0: Instant) -> HomeAgent {
        let mut ha2 = ha(2, t0);
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 2, 10)));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        let _ = events_of(&mut ha2);
        ha2
    }

    /// The events `ha` queued.
    fn events_of(ha: &mut HomeAgent) -> Vec<Event> {
        std::iter::from_fn(|| ha.poll_event()).collect()
    }

    /// How many removals of mobile node 1's binding `ha` has queued for `peer`.
    fn removals_of_mn1(ha: &HomeAgent, peer: NodeId) -> usize {
        ha.channels[&peer]
            .queued()
            .filter(|i| matches!(i, Item::Remove { home_address, .. } if *home_address == home(1)))
            .count()
    }

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

    /// RFC 5944 section 3.8.3 (a binding ends: its tunnel goes) and the two-servers rule: a
    /// binding this HA served that gives way to a newer registration served by another member
    /// (its replica wins the claim) is no longer this HA's to tunnel, so the caller gets
    /// `Event::Deregistered` for each care-of address it had here, once; the member now serving
    /// it keeps its binding (an older claim from the old server changes nothing there).
    #[test]
    fn a_binding_given_way_to_a_newer_registration_elsewhere_removes_its_tunnel_once() {
        let t0 = Instant::now();
        let mut ha2 = serving_mn1(t0);
        // A newer registration, served by HA 3, then its refresh and a copy.
        for id in [11, 11, 12] {
            ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, id)));
        }
        assert_eq!(server(&ha2, 1), Some(NodeId(3)));
        let events: Vec<Event> = events_of(&mut ha2);
        let gone: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e, Event::Deregistered { .. } | Event::Expired { .. }))
            .collect();
        assert_eq!(gone.len(), 1, "{events:?}");
        assert!(matches!(gone[0],
            Event::Deregistered { home_address, tunnel }
                if *home_address == home(1) && tunnel.care_of == Ipv4Addr::new(203, 0, 113, 1)));
        // At the new server: the old server's claim (older) changes nothing, removes nothing.
        let mut ha3 = ha(3, t0);
        ha3.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 3, 11)));
        assert_eq!(server(&ha3, 1), Some(NodeId(3)));
        while ha3.poll_event().is_some() {}
        ha3.apply(t0, NodeId(2), Item::Upsert(permanent(1, 1, 2, 10)));
        assert_eq!(server(&ha3, 1), Some(NodeId(3)));
        let events: Vec<Event> = events_of(&mut ha3);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Deregistered { .. } | Event::Expired { .. })),
            "{events:?}"
        );
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

    /// RFC 3543 section 4.2 through a false Down: a removal from the member this HA took the
    /// binding over from, of the registration taken over, removes it here though this HA serves
    /// it now (and its backups are told); of a registration since, or from another member,
    /// nothing.
    #[test]
    fn a_removal_from_the_member_a_binding_was_taken_from_stands_at_its_new_server() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 1, 1, 5)));
        let b = ha1.binding(home(1), None).unwrap();
        assert_eq!(
            removal(b, NodeId(1), NodeId(2), Some(5)),
            Removal::RemoveServed
        );
        assert_eq!(removal(b, NodeId(1), NodeId(2), Some(4)), Removal::Nothing);
        assert_eq!(removal(b, NodeId(1), NodeId(2), None), Removal::Nothing);
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
        ha1.apply(t0, NodeId(2), Entry::SyncBegin { epoch: 7 });
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
        ha1.apply(t0, NodeId(2), Entry::SyncEnd { epoch: 8 });
        assert!(
            server(&ha1, 2).is_some(),
            "an end of another epoch sweeps nothing"
        );
        ha1.apply(t0, NodeId(2), Entry::SyncEnd { epoch: 7 });
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
        assert_eq!(ch.bulk(), BulkSync::Idle);
        ch.enqueue(Item::Upsert(permanent(3, 1, 1, 5)), 3);
        assert_eq!(ch.bulk(), BulkSync::Start);
        assert_eq!(ch.queued().collect::<Vec<_>>(), [&takeover]);
        // The next batch opens the sync under a new epoch, over the table (one binding this HA
        // serves), and then the decision.
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 1, 5)));
        let (_, items) = ch
            .next_batch(
                t0,
                Duration::from_secs(1),
                walk(
                    &ha1.table,
                    None,
                    &mut ha1.sealer,
                    &ha1.revocations,
                    NodeId(1),
                    NodeId(2),
                    t0,
                ),
            )
            .unwrap();
        let record = record(&ha1.table, ha1.table.find(home(1), None).unwrap(), t0).unwrap();
        assert_eq!(
            items,
            [
                Entry::SyncBegin { epoch: 1 },
                Entry::Item(Item::Upsert(record)),
                Entry::SyncEnd { epoch: 1 },
                Entry::Item(takeover),
            ]
        );
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
                .queued()
                .any(|i| matches!(i, Item::Upsert(r) if r.home_address == home(1) && r.second_ha == NodeId(2)));
            assert!(says, "backup {peer:?} not told");
        }
    }

    /// The two-servers rule (module docs of `mip`: "the owner a takeover decided, else the newer
    /// registration, else the lower node id") seen from a member that serves neither claimant,
    /// and the cluster's failover rule (RFC 5944 section 3.8.3: the home agent keeps the binding
    /// its mobile node registered; here its server and a backup hold it at every moment). HA 3,
    /// cut off from HA 1 only, takes over HA 1's binding (the same registration), and HA 2, which
    /// sees HA 1 alive, takes HA 3's record; HA 1 wins that claim, HA 3 gives the binding back,
    /// and its next bulk sync no longer names it (the handover dropped with its queue): the
    /// binding names HA 1 again here instead of going (bulk sync seed 103: HA 2 had lost all of
    /// HA 1's bindings). Not so when HA 1 is seen Down here, when the binding changed since (a
    /// newer registration), or when HA 1 said anything of it since.
    #[test]
    fn a_binding_a_partitioned_member_took_from_a_live_server_goes_back_to_it() {
        let t0 = Instant::now();
        let key = (home(1), None);
        // HA 2 holds HA 1's binding of mobile node 1 (HA 1 seen alive or not), takes HA 3's
        // records (`claims`), then HA 3's bulk sync names nothing.
        let after = |alive: bool, claims: &[(u32, Record)]| {
            let (mut ha1, mut ha2) = (ha(1, t0), ha(2, t0));
            if alive {
                hear(&mut ha2, &mut ha1, t0);
            }
            ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 1, 5)));
            for (sender, r) in claims {
                ha2.apply(t0, NodeId(*sender), Item::Upsert(r.clone()));
            }
            ha2.apply(t0, NodeId(3), Entry::SyncBegin { epoch: 1 });
            ha2.apply(t0, NodeId(3), Entry::SyncEnd { epoch: 1 });
            let b = ha2.binding(home(1), None);
            let kept = b.map(|b| (b.first_ha, b.second_ha, b.identification));
            assert!(
                ha2.takeover.displaced(&key, NodeId(3)).is_none(),
                "note kept"
            );
            kept
        };
        let took = (3, permanent(1, 3, 3, 5));
        assert_eq!(
            after(true, std::slice::from_ref(&took)),
            Some((NodeId(1), NodeId(1), 5))
        );
        // HA 1 Down here: HA 3's takeover of it stood, and what HA 3 no longer names goes.
        assert_eq!(after(false, std::slice::from_ref(&took)), None);
        // A newer registration at HA 3, since gone there.
        assert_eq!(
            after(true, &[took.clone(), (3, permanent(1, 3, 3, 6))]),
            None
        );
        // HA 1 handed it over to HA 3 (its own word naming HA 3), since gone there.
        assert_eq!(
            after(true, &[took.clone(), (1, permanent(1, 3, 3, 5))]),
            None
        );
        // HA 3 serves it and is seen alive; HA 1 (the lower id, the claim's winner) claims it:
        // nothing is noted, and HA 1's bulk sync naming nothing would sweep it.
        let (mut ha2, mut ha3) = (ha(2, t0), ha(3, t0));
        hear(&mut ha2, &mut ha3, t0);
        ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 1, 5)));
        assert_eq!(server(&ha2, 1), Some(NodeId(1)));
        assert!(ha2.takeover.displaced(&key, NodeId(1)).is_none());
    }

    /// As above, but HA 1, the live server HA 3's claim displaced here, removed the binding
    /// meanwhile (RFC 5944 section 3.8.3: the mobile node deregistered there, and was told its
    /// binding is gone) and says so, by its removal (which finds the binding naming HA 3 here,
    /// so removes nothing) or by its bulk sync not naming it (the removal lost with an
    /// overflowed queue): the note that HA 1 holds it goes, and HA 3's bulk sync no longer
    /// naming the binding sweeps it here rather than name HA 1 again, which holds nothing (bulk
    /// sync seed 4415: HA 2 kept four deregistered bindings naming HA 1).
    #[test]
    fn a_binding_the_displaced_server_removed_does_not_go_back_to_it() {
        let t0 = Instant::now();
        let remove = Item::Remove {
            home_address: home(1),
            nai: None,
        };
        // HA 2 sees HA 1 alive, holds its binding, takes HA 3's claim of the same registration;
        // then HA 1's word (`from_ha1`), then HA 3's bulk sync naming nothing.
        let after = |from_ha1: &[Entry<Item>]| {
            let (mut ha1, mut ha2) = (ha(1, t0), ha(2, t0));
            hear(&mut ha2, &mut ha1, t0);
            ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 1, 5)));
            ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
            assert_eq!(server(&ha2, 1), Some(NodeId(3)));
            for e in from_ha1 {
                ha2.apply(t0, NodeId(1), e.clone());
            }
            ha2.apply(t0, NodeId(3), Entry::SyncBegin { epoch: 1 });
            ha2.apply(t0, NodeId(3), Entry::SyncEnd { epoch: 1 });
            server(&ha2, 1)
        };
        assert_eq!(after(&[]), Some(NodeId(1)), "HA 1 said nothing: seed 103");
        assert_eq!(after(&[Entry::Item(remove)]), None, "HA 1's removal");
        let sync = [Entry::SyncBegin { epoch: 1 }, Entry::SyncEnd { epoch: 1 }];
        assert_eq!(after(&sync), None, "HA 1's bulk sync not naming it");
        // HA 1's bulk sync naming it: HA 1 serves it.
        let named = [
            Entry::SyncBegin { epoch: 1 },
            Entry::Item(Item::Upsert(permanent(1, 1, 1, 5))),
            Entry::SyncEnd { epoch: 1 },
        ];
        assert_eq!(after(&named), Some(NodeId(1)));
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

    /// "A copy sent by another member before it applied the removal ... not newer than the
    /// removal, changes nothing and the serving HA answers its sender with the removal."
    #[test]
    fn a_late_copy_of_a_removed_binding_changes_nothing_and_is_answered_with_the_removal() {
        let t0 = Instant::now();
        let mut ha3 = ha(3, t0);
        // HA 1's record names HA 3 the server of mobile node 1; HA 3 then revokes it.
        ha3.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 3, 10)));
        assert_eq!(server(&ha3, 1), Some(NodeId(3)));
        let slot = ha3.table.find(home(1), None).unwrap();
        let b = ha3.table.remove(slot).unwrap();
        ha3.remove_served(t0, &b, super::super::removed::lifetime_end(&b));
        assert_eq!(removals_of_mn1(&ha3, NodeId(1)), 1);
        // HA 1's record again, sent before it applied the removal: nothing changes.
        ha3.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 3, 10)));
        assert_eq!(server(&ha3, 1), None);
        assert_eq!(ha3.stats.replicas_stale, 1);
        assert_eq!(
            removals_of_mn1(&ha3, NodeId(1)),
            2,
            "HA 1 is answered with the removal"
        );
        // A registration since (a newer identification) is taken.
        ha3.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 3, 11)));
        assert_eq!(server(&ha3, 1), Some(NodeId(3)));
    }

    /// RFC 5944 section 3.8.3 (the reply to a deregistration tells the mobile node its binding
    /// is gone) and "a removal reaches every holder of a copy": HA 1 served mobile node 1 and
    /// removed it (deregistered); HA 3, cut off from HA 1, saw it Down and took its bindings over
    /// from the replicas it still held, the removed one among them (bulk sync seed 689). HA 3's
    /// claim of the registration removed here changes nothing here (else HA 1's next bulk sync
    /// names it as held by HA 3, which keeps serving it), and HA 1 answers HA 3 with the
    /// removal; a registration since (newer) is taken. A member that only applied the removal
    /// answers nothing, and takes the claim no more than the remover does (below).
    #[test]
    fn a_claim_of_a_registration_this_ha_removed_as_its_server_changes_nothing() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 1, 10)));
        assert_eq!(server(&ha1, 1), Some(NodeId(1)));
        let slot = ha1.table.find(home(1), None).unwrap();
        let until = super::super::removed::lifetime_end(ha1.table.get(slot).unwrap());
        ha1.retire(t0, slot, until);
        assert_eq!(server(&ha1, 1), None);
        assert_eq!(removals_of_mn1(&ha1, NodeId(3)), 1);
        // HA 3's claim of the registration HA 1 removed.
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 10)));
        assert_eq!(server(&ha1, 1), None, "the removal stands");
        assert_eq!(ha1.stats.replicas_stale, 1);
        assert_eq!(
            removals_of_mn1(&ha1, NodeId(3)),
            2,
            "HA 3 is answered with the removal"
        );
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 11)));
        assert_eq!(server(&ha1, 1), Some(NodeId(3)), "a registration since");
        // HA 2 applied HA 1's removal: HA 3's claim changes nothing there either, and HA 2
        // leaves the answer to HA 1.
        let mut ha2 = ha(2, t0);
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 1, 10)));
        ha2.apply(
            t0,
            NodeId(1),
            Item::Remove {
                home_address: home(1),
                nai: None,
            },
        );
        assert_eq!(server(&ha2, 1), None);
        ha2.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 10)));
        assert_eq!(server(&ha2, 1), None);
        assert_eq!(ha2.stats.replicas_stale, 1);
        assert!(ha2.channels[&NodeId(3)].queued().next().is_none());
    }

    /// "A removal reaches every holder of a copy" (revocation seed 5236 of 10,000): HA 2 served
    /// mobile node 1 and revoked it; HA 1 applied the removal. HA 3's claim of the same
    /// registration (its takeover of HA 2's bindings in a false Down, queued before HA 2's
    /// removal reached HA 3, which dropped its copy on that removal, and retransmitted to HA 1
    /// under loss) reaches HA 1 after the removal. Taken, it would leave HA 1 holding the
    /// binding alone, with no member left to remove it. It changes nothing; a registration since
    /// (newer) is taken.
    #[test]
    fn a_claim_of_a_registration_whose_removal_this_ha_applied_changes_nothing() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 1, 2, 10)));
        assert_eq!(server(&ha1, 1), Some(NodeId(2)));
        let (home_address, nai) = (home(1), None);
        ha1.apply(t0, NodeId(2), Item::Remove { home_address, nai });
        assert_eq!(server(&ha1, 1), None);
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 1, 3, 10)));
        assert_eq!(server(&ha1, 1), None, "the removal stands");
        assert_eq!(ha1.stats.replicas_stale, 1);
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 1, 3, 11)));
        assert_eq!(server(&ha1, 1), Some(NodeId(3)), "a registration since");
    }

    /// "The batch in flight when a backup is seen Up again is kept, its removals reach it once"
    /// (module docs of `crate::mip`; `crate::replica` docs, delivery): the bulk sync that
    /// restarts waits for its acknowledgement, and no removal of it is queued again (applied
    /// twice, a removal would end a binding registered again since).
    #[test]
    fn a_removal_in_flight_when_a_bulk_sync_restarts_goes_once() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        for k in [1, 2] {
            let (home_address, nai) = (home(k), None);
            ha1.enqueue(NodeId(2), Item::Remove { home_address, nai });
        }
        let ch = ha1.channels.get_mut(&NodeId(2)).unwrap();
        let (seq, sent) = ch.next_batch(t0, Duration::from_secs(1), |_| None).unwrap();
        ha1.restart_bulk(NodeId(2));
        let ch = &ha1.channels[&NodeId(2)];
        assert_eq!(ch.bulk(), BulkSync::Start);
        assert_eq!(ch.in_flight(), Some((seq, &sent[..])), "kept");
        assert_eq!(ch.deadline(), Some(t0), "due at once");
        assert_eq!(ch.queued().count(), 0, "nothing queued again");
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

    /// RFC 5944 section 3.8.3: a deregistration (lifetime 0) another member accepted, newer
    /// than the binding, removes it at its server, with its tunnel (`Event::Deregistered`) and
    /// the server's own removal to the backups; an older one (a registration since) changes
    /// nothing, nor one for a binding with a newer request pending.
    #[test]
    fn a_deregistration_accepted_elsewhere_removes_the_binding_at_its_server() {
        let t0 = Instant::now();
        let mut ha2 = serving_mn1(t0);
        let dereg = |identification| Item::Deregistered {
            home_address: home(1),
            nai: None,
            identification,
            care_of: None,
        };
        ha2.apply(t0, NodeId(3), dereg(10));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)), "not newer: kept");
        ha2.apply(t0, NodeId(3), dereg(11));
        assert_eq!(server(&ha2, 1), None);
        let events: Vec<Event> = events_of(&mut ha2);
        assert!(
            events.iter().any(|e| matches!(e,
                Event::Deregistered { home_address, tunnel }
                    if *home_address == home(1) && tunnel.care_of == Ipv4Addr::new(203, 0, 113, 1))),
            "{events:?}"
        );
        let removal =
            |i: &&Item| matches!(i, Item::Remove { home_address, .. } if *home_address == home(1));
        assert_eq!(ha2.channels[&NodeId(1)].queued().filter(removal).count(), 1);
        // A replica served elsewhere goes too.
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 1, 2, 10)));
        ha1.apply(t0, NodeId(3), dereg(11));
        assert_eq!(server(&ha1, 1), None);
    }

    /// RFC 5944 sections 3.8.3 and 3.6.1.3: with simultaneous bindings, a deregistration of one
    /// care-of address removes only that one. Accepted at another member, its server removes
    /// that care-of address and its tunnel (`Event::Deregistered`, once), keeps the others and
    /// replicates the binding as it is now; an older one (a registration since) changes nothing.
    #[test]
    fn a_deregistration_of_one_care_of_address_accepted_elsewhere_removes_only_that_one() {
        let t0 = Instant::now();
        let (c1, c2) = (Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2));
        let mut r = permanent(1, 1, 2, 10);
        let left = Some(Duration::from_secs(600));
        r.state = RecordState::Permanent {
            care_of: vec![(c1, left), (c2, left)],
        };
        let mut ha2 = ha(2, t0);
        ha2.max_simultaneous = 2;
        ha2.apply(t0, NodeId(1), Item::Upsert(r));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        while ha2.poll_event().is_some() {}
        let dereg = |identification| Item::Deregistered {
            home_address: home(1),
            nai: None,
            identification,
            care_of: Some(c1),
        };
        ha2.apply(t0, NodeId(3), dereg(10));
        assert_eq!(ha2.binding(home(1), None).unwrap().care_of.len(), 2);
        ha2.apply(t0, NodeId(3), dereg(11));
        ha2.apply(t0, NodeId(3), dereg(11));
        let b = ha2.binding(home(1), None).expect("the binding stays");
        assert_eq!(b.second_ha, NodeId(2));
        let left: Vec<Ipv4Addr> = b.care_of.iter().map(|c| c.address).collect();
        assert_eq!(left, [c2]);
        let events: Vec<Event> = events_of(&mut ha2);
        let gone: Vec<Ipv4Addr> = events
            .iter()
            .filter_map(|e| match e {
                Event::Deregistered { tunnel, .. } => Some(tunnel.care_of),
                _ => None,
            })
            .collect();
        assert_eq!(gone, [c1], "{events:?}");
        // The backups learn the binding as it is now (its remaining care-of address).
        let told = ha2.channels[&NodeId(1)].queued().any(|i| {
            matches!(i, Item::Upsert(r) if r.home_address == home(1)
                && r.state == RecordState::Permanent { care_of: vec![(c2, Some(Duration::from_secs(600)))] })
        });
        assert!(told);
        // Its last care-of address deregistered the same way: the binding goes.
        ha2.apply(
            t0,
            NodeId(3),
            Item::Deregistered {
                home_address: home(1),
                nai: None,
                identification: 12,
                care_of: Some(c2),
            },
        );
        assert_eq!(server(&ha2, 1), None);
    }
    /// RFC 5944 sections 3.6.1.3, 3.8.2.2 and 3.8.3 through a false Down of the server: another
    /// member accepted the deregistration of one of two care-of addresses, and the first HA's
    /// record of the binding (still naming this HA the server, the same registration) comes
    /// before that member's `Item::Deregistered`: the care-of address the record no longer lists
    /// goes here with its tunnel (`Event::Deregistered`, once, also when the deregistration
    /// follows), the other stays, still served here (session 40 seeds 1365, 3073, 3938).
    #[test]
    fn a_record_dropping_a_care_of_address_this_ha_serves_removes_its_tunnel_once() {
        let t0 = Instant::now();
        let (c1, c2) = (Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2));
        let left = Some(Duration::from_secs(600));
        let with = |care_of: Vec<(Ipv4Addr, Option<Duration>)>| {
            let mut r = permanent(1, 1, 2, 10);
            r.state = RecordState::Permanent { care_of };
            r
        };
        let mut ha2 = ha(2, t0);
        ha2.max_simultaneous = 2;
        ha2.apply(
            t0,
            NodeId(1),
            Item::Upsert(with(vec![(c1, left), (c2, left)])),
        );
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        while ha2.poll_event().is_some() {}
        // The first HA's record after HA 3 accepted the deregistration of `c1`, then HA 3's
        // deregistration itself (newer), then a copy of the record.
        ha2.apply(t0, NodeId(1), Item::Upsert(with(vec![(c2, left)])));
        ha2.apply(
            t0,
            NodeId(3),
            Item::Deregistered {
                home_address: home(1),
                nai: None,
                identification: 11,
                care_of: Some(c1),
            },
        );
        ha2.apply(t0, NodeId(1), Item::Upsert(with(vec![(c2, left)])));
        let b = ha2.binding(home(1), None).expect("the binding stays");
        assert_eq!(b.second_ha, NodeId(2));
        let kept: Vec<Ipv4Addr> = b.care_of.iter().map(|c| c.address).collect();
        assert_eq!(kept, [c2]);
        let events: Vec<Event> = events_of(&mut ha2);
        let gone: Vec<Ipv4Addr> = events
            .iter()
            .filter_map(|e| match e {
                Event::Deregistered {
                    home_address,
                    tunnel,
                } if *home_address == home(1) => Some(tunnel.care_of),
                Event::Expired { tunnel, .. } => Some(tunnel.care_of),
                _ => None,
            })
            .collect();
        assert_eq!(gone, [c1], "{events:?}");
        // Not served here: a record dropping a care-of address removes no tunnel.
        let mut ha3 = ha(3, t0);
        ha3.max_simultaneous = 2;
        ha3.apply(
            t0,
            NodeId(2),
            Item::Upsert(with(vec![(c1, left), (c2, left)])),
        );
        while ha3.poll_event().is_some() {}
        ha3.apply(t0, NodeId(1), Item::Upsert(with(vec![(c2, left)])));
        let events: Vec<Event> = events_of(&mut ha3);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Deregistered { .. })),
            "{events:?}"
        );
    }

    /// The care-of addresses of the tunnels `events` remove ([`Event::Deregistered`],
    /// [`Event::Expired`], [`Event::RegistrationRevoked`]) for mobile node 1.
    fn removed_tunnels(events: &[Event]) -> Vec<Ipv4Addr> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Deregistered {
                    home_address,
                    tunnel,
                }
                | Event::Expired {
                    home_address,
                    tunnel,
                } if *home_address == home(1) => Some(tunnel.care_of),
                Event::RegistrationRevoked {
                    home_address,
                    tunnel: Some(tunnel),
                    ..
                } if *home_address == home(1) => Some(tunnel.care_of),
                _ => None,
            })
            .collect()
    }

    /// What `ha` told its caller since its events were last drained removes mobile node 1's one
    /// tunnel (care-of address 203.0.113.1), once.
    fn removes_the_tunnel_of_mn1_once(ha: &mut HomeAgent) {
        let events = events_of(ha);
        assert_eq!(
            removed_tunnels(&events),
            [Ipv4Addr::new(203, 0, 113, 1)],
            "{events:?}"
        );
    }

    /// HA 1 serving mobile node 1, taken over from HA 2 (seen under incarnation 1) by its own
    /// decision, its events drained.
    fn taken_over_from_ha2(t0: Instant) -> HomeAgent {
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
        let mut w = ReplayWindow::default();
        w.accept(1, 1);
        ha1.windows.insert(NodeId(2), w);
        ha1.take_over(t0, NodeId(2), NodeId(1), NodeId(1), None);
        assert_eq!(server(&ha1, 1), Some(NodeId(1)));
        let events = events_of(&mut ha1);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::TakenOver { owner, .. } if *owner == NodeId(1))),
            "{events:?}"
        );
        ha1
    }

    /// RFC 5944 section 3.8.3 (a binding that ends takes its tunnel with it): a binding this HA
    /// took over from a peer that turned out alive with its state, and that the peer's bulk
    /// sync no longer names (deregistered or expired there meanwhile), goes here
    /// (`replicate::gone`): the caller, who installed its tunnel on `Event::TakenOver`, is told
    /// to remove it, once (`Event::Deregistered`).
    #[test]
    fn a_taken_over_binding_the_returned_peer_no_longer_holds_removes_its_tunnel_once() {
        let t0 = Instant::now();
        let mut ha1 = taken_over_from_ha2(t0);
        ha1.apply(t0, NodeId(2), Entry::SyncBegin { epoch: 1 });
        ha1.apply(t0, NodeId(2), Entry::SyncEnd { epoch: 1 });
        assert_eq!(server(&ha1, 1), None);
        removes_the_tunnel_of_mn1_once(&mut ha1);
        ha1.apply(t0, NodeId(2), Entry::SyncBegin { epoch: 2 });
        ha1.apply(t0, NodeId(2), Entry::SyncEnd { epoch: 2 });
        assert!(removed_tunnels(&events_of(&mut ha1)).is_empty());
    }

    /// RFC 5944 section 3.8.3 and RFC 3543 section 4.2: a binding this HA took over from a
    /// member seen Down but alive, which that member removed meanwhile (`Removal::RemoveServed`:
    /// its foreign agent revoked it, or it deregistered), goes here with its tunnel, once.
    #[test]
    fn a_taken_over_binding_its_old_server_removed_removes_its_tunnel_once() {
        let t0 = Instant::now();
        let mut ha1 = taken_over_from_ha2(t0);
        let remove = || Item::Remove {
            home_address: home(1),
            nai: None,
        };
        ha1.apply(t0, NodeId(2), remove());
        ha1.apply(t0, NodeId(2), remove());
        assert_eq!(server(&ha1, 1), None);
        removes_the_tunnel_of_mn1_once(&mut ha1);
    }

    /// The takeover rules ("the lowest (coordinator, owner) wins") and RFC 5944 section 3.8.3:
    /// this HA, owner by a decision that then loses (split brain: another coordinator chose
    /// another owner), no longer serves the bindings it had taken over; their tunnels here go,
    /// once each (`Event::Deregistered`), the winning owner serving them now.
    #[test]
    fn a_losing_owner_removes_the_tunnels_it_had_taken_over_once() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        ha1.apply(t0, NodeId(3), Item::Upsert(permanent(1, 3, 3, 5)));
        // HA 2 coordinates and chooses HA 1; then HA 1's own decision (a lower coordinator)
        // chooses HA 2, and wins.
        ha1.take_over(t0, NodeId(3), NodeId(1), NodeId(2), None);
        assert_eq!(server(&ha1, 1), Some(NodeId(1)));
        let _ = events_of(&mut ha1);
        ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(1), None);
        ha1.take_over(t0, NodeId(3), NodeId(2), NodeId(1), None);
        assert_eq!(server(&ha1, 1), Some(NodeId(2)));
        removes_the_tunnel_of_mn1_once(&mut ha1);
    }

    /// RFC 5944 section 3.8.3 (the home agent tunnels to the care-of addresses of the bindings
    /// it serves): a replica naming this HA the server of a binding it did not serve (a first
    /// HA's relay record, a handover) makes it serve the binding, so the caller is told to
    /// install its tunnel (`Event::Registered`), once: a copy of the record adds nothing.
    #[test]
    fn a_replica_making_this_ha_the_server_registers_its_tunnel_once() {
        let t0 = Instant::now();
        let mut ha2 = ha(2, t0);
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 2, 10)));
        ha2.apply(t0, NodeId(1), Item::Upsert(permanent(1, 1, 2, 10)));
        assert_eq!(server(&ha2, 1), Some(NodeId(2)));
        let events = events_of(&mut ha2);
        let registered: Vec<Ipv4Addr> = events
            .iter()
            .filter_map(|e| match e {
                Event::Registered { care_of, .. } => Some(*care_of),
                _ => None,
            })
            .collect();
        assert_eq!(registered, [Ipv4Addr::new(203, 0, 113, 1)], "{events:?}");
    }
}
