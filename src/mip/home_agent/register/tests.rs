//! The registration rules of the virtual HA (module docs of `mip`), RFC 5944 section 3.8.
use super::super::testkit::*;
use super::*;

fn vip() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(VIP, PORT))
}

/// "The first HA authenticates the request (MN-HA, so spoofed requests create no state)":
/// RFC 5944 section 3.8.2.1, 131 when the authenticator is wrong.
#[test]
fn a_request_failing_mn_ha_authentication_is_refused_131_and_creates_no_state() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    let forged = Builder::request(Request {
        lifetime: 600,
        home_address: home(1),
        home_agent: VIP,
        care_of: Ipv4Addr::new(203, 0, 113, 1),
        identification: ntp(t0, t0),
        ..Request::default()
    })
    .mn_ha_auth(&mn_sa(2))
    .to_vec();
    let r = ha1.handle_datagram(t0, fa(), vip(), &forged);
    assert_eq!(r, Err(InputError::Refused(ReplyCode::MN_AUTH_FAILED)));
    assert_eq!(ha1.bindings().len(), 0);
    assert_eq!(ha1.bindings().pending_len(), 0);
}

/// "A reply with no temporary binding is dropped and counted" (never relayed).
#[test]
fn a_reply_matching_no_temporary_binding_is_dropped_and_counted() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    let _ = drain(&mut ha1);
    let reply = Builder::reply(Reply {
        code: ReplyCode::ACCEPTED,
        lifetime: 600,
        home_address: home(1),
        home_agent: VIP,
        identification: ntp(t0, t0),
    })
    .mn_ha_auth(&mn_sa(1))
    .to_vec();
    let m = cluster(2, 1, Body::Relay { reply: &reply });
    let r = ha1.handle_datagram(t0, addr(2), addr(1), &m);
    assert_eq!(r, Err(InputError::UnmatchedReply));
    assert_eq!(ha1.stats().unmatched_replies, 1);
    assert!(drain(&mut ha1).is_empty());
}

/// A network copy of a forwarded request is refused 133 by the second HA (RFC 5944
/// sections 3.8.3 and 5.7: not newer than the last accepted identification). When that
/// refusal reaches the first HA before the acceptance of the original, the acceptance still
/// makes the binding permanent: the mobile node is registered at the second HA.
#[test]
fn a_133_for_a_network_copy_does_not_undo_the_same_has_acceptance() {
    let t0 = Instant::now();
    let (mut ha1, mut ha2) = (ha(1, t0), ha(2, t0));
    hear(&mut ha1, &mut ha2, t0);
    // HA 1 knows HA 2 serves mobile node 1, so it forwards there.
    ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 1)));
    let _ = drain(&mut ha1);
    let id = ntp(t0, t0);
    let q = request(1, id);
    ha1.handle_datagram(t0, fa(), vip(), &q).unwrap();
    assert_eq!(ha1.stats().forwarded, 1);
    let fwd: Vec<Transmit> = drain(&mut ha1)
        .into_iter()
        .filter(|t| t.dst == addr(2))
        .collect();
    for t in &fwd {
        let _ = ha2.handle_datagram(t0, addr(1), addr(2), &t.payload);
    }
    let accepted = drain(&mut ha2);
    // The copy, as the network duplicated it.
    let copy = ha2.handle_request(t0, fa(), vip(), &q, Some(NodeId(1)));
    assert_eq!(
        copy,
        Err(InputError::Refused(ReplyCode::IDENTIFICATION_MISMATCH))
    );
    let refused = drain(&mut ha2);
    for t in refused.iter().chain(&accepted).filter(|t| t.dst == addr(1)) {
        let _ = ha1.handle_datagram(t0, addr(2), addr(1), &t.payload);
    }
    let b = ha1.binding(home(1), None).unwrap();
    assert_eq!(b.state(), BindingState::Permanent);
    assert_eq!((b.second_ha, b.identification), (NodeId(2), id));
    assert!(b.pending().is_none());
    assert_eq!(ha1.stats().superseded_refusals, 1);
    assert_eq!(ha1.stats().relayed, 2);
}

/// Layer-2 notices: "the first HA announces each forwarded request in an authenticated
/// cluster::Body::Notice": the HA that receives the request next serves it as second HA for
/// that first HA, answering through it; without a notice it would be the first HA itself.
#[test]
fn a_request_announced_by_a_notice_is_served_for_the_first_ha() {
    let t0 = Instant::now();
    let mut ha2 = ha(2, t0);
    let _ = drain(&mut ha2);
    let id = ntp(t0, t0);
    let notice = cluster(
        1,
        1,
        Body::Notice {
            home_address: home(1),
            nai: None,
            identification: id,
        },
    );
    ha2.handle_datagram(t0, addr(1), addr(2), &notice).unwrap();
    ha2.handle_datagram(t0, fa(), vip(), &request(1, id))
        .unwrap();
    let b = ha2.binding(home(1), None).unwrap();
    assert_eq!((b.first_ha, b.second_ha), (NodeId(1), NodeId(2)));
    let out = drain(&mut ha2);
    // The answer goes back through the first HA (layer 3 here: in a cluster message), not to
    // the foreign agent directly.
    assert!(
        out.iter()
            .any(|t| t.dst == addr(1) && cluster::is_cluster_message(&t.payload))
    );
    assert!(out.iter().all(|t| t.dst != fa()));
    // A second request (no notice): this HA is its own first HA, answering the FA itself.
    let id2 = ntp(t0, t0 + Duration::from_secs(1));
    ha2.handle_datagram(t0, fa(), vip(), &request(2, id2))
        .unwrap();
    let b = ha2.binding(home(2), None).unwrap();
    assert_eq!(b.first_ha, NodeId(2));
    assert!(drain(&mut ha2).iter().any(|t| t.dst == fa()));
}

/// RFC 5944 section 5.7: a request whose Identification is not newer than the last one accepted
/// from the mobile node is refused 133, also after a deregistration removed its binding: a copy
/// of the registration replayed within the timestamp tolerance binds nothing.
#[test]
fn a_registration_replayed_after_deregistration_is_refused_133() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    let reg = request(1, ntp(t0, t0));
    ha1.handle_request(t0, fa(), vip(), &reg, None).unwrap();
    assert_eq!(ha1.bindings().len(), 1);
    let t1 = t0 + Duration::from_secs(1);
    let dereg = Builder::request(Request {
        lifetime: 0,
        home_address: home(1),
        home_agent: VIP,
        care_of: home(1),
        identification: ntp(t0, t1),
        ..Request::default()
    })
    .mn_ha_auth(&mn_sa(1))
    .to_vec();
    ha1.handle_request(t1, fa(), vip(), &dereg, None).unwrap();
    assert_eq!(ha1.bindings().len(), 0);
    let t2 = t0 + Duration::from_secs(2);
    let replay = ha1.handle_request(t2, fa(), vip(), &reg, None);
    assert_eq!(
        replay,
        Err(InputError::Refused(ReplyCode::IDENTIFICATION_MISMATCH))
    );
    assert_eq!(ha1.bindings().len(), 0, "the replay bound nothing");
    // A fresh request (newer identification) registers again.
    let fresh = request(1, ntp(t0, t2));
    ha1.handle_request(t2, fa(), vip(), &fresh, None).unwrap();
    assert_eq!(ha1.bindings().len(), 1);
}

/// Admission looks the mobile node's binding up (whose binding the request would change, RFC
/// 5944 section 3.8.2.1) and serving the request starts from that slot: one lookup per request,
/// for a first registration and a re-registration alike. The slot is the binding's: a copy of
/// an accepted request is still refused 133 (section 5.7, not newer than the binding's last
/// identification).
#[test]
fn a_request_looks_its_binding_up_once() {
    let t0 = Instant::now();
    // Alone (its peers not heard from): it serves every request itself.
    let mut ha1 = ha(1, t0);
    let mut sent = Vec::new();
    for (s, k) in [(0, 1), (1, 1), (2, 2)] {
        let now = t0 + Duration::from_secs(s);
        let rrq = request(k, ntp(t0, now));
        let before = ha1.table.finds();
        assert_eq!(ha1.handle_datagram(now, fa(), vip(), &rrq), Ok(()));
        assert_eq!(ha1.table.finds() - before, 1, "request {s}");
        sent.push((now, rrq));
    }
    assert_eq!(server(&ha1, 1), Some(NodeId(1)));
    assert_eq!(ha1.stats().served, 3);
    let (now, copy) = &sent[1];
    let r = ha1.handle_datagram(*now, fa(), vip(), copy);
    assert_eq!(
        r,
        Err(InputError::Refused(ReplyCode::IDENTIFICATION_MISMATCH))
    );
}

/// The first HA keeps the allocation of an answered pending request for the next forwarded one
/// (at most [`SPARE_PENDING`]), and the reused pending request is the new request's own (RFC
/// 5944 section 3.8.3: the second HA's reply must match its identification): the reply to the
/// second request finds it and makes the binding permanent with that identification.
#[test]
fn an_answered_pending_request_is_reused_for_the_next() {
    let t0 = Instant::now();
    let (mut ha1, mut ha2) = (ha(1, t0), ha(2, t0));
    hear(&mut ha1, &mut ha2, t0);
    for k in 1..=8 {
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(k, 2, 2, 1)));
    }
    let _ = drain(&mut ha1);
    // One round: each of `ks` registers through HA 1 (forwarded to HA 2) at `now`.
    let round = |ha1: &mut HomeAgent, ha2: &mut HomeAgent, now: Instant, ks: &[u32]| {
        let id = ntp(t0, now);
        for &k in ks {
            ha1.handle_datagram(now, fa(), vip(), &request(k, id))
                .unwrap();
            let b = ha1.binding(home(k), None).unwrap();
            let pe = b.pending().unwrap();
            assert_eq!((pe.identification, pe.second_ha), (id, NodeId(2)));
            assert_eq!(pe.care_of, Ipv4Addr::new(203, 0, 113, k as u8));
            assert_eq!(pe.deadline, now + ha1.pending_timeout);
            assert_eq!(pe.stage, PendingStage::Forwarded);
        }
        for t in drain(ha1).iter().filter(|t| t.dst == addr(2)) {
            let _ = ha2.handle_datagram(now, addr(1), addr(2), &t.payload);
        }
        for t in drain(ha2).iter().filter(|t| t.dst == addr(1)) {
            let _ = ha1.handle_datagram(now, addr(2), addr(1), &t.payload);
        }
        for &k in ks {
            let b = ha1.binding(home(k), None).unwrap();
            assert_eq!(b.state(), BindingState::Permanent);
            assert_eq!((b.identification, b.second_ha), (id, NodeId(2)));
            assert!(b.pending().is_none());
        }
    };
    round(&mut ha1, &mut ha2, t0, &[1]);
    assert_eq!(ha1.spare_pending.len(), 1);
    // 1.5 s later: another identification, also in its low 32 bits.
    round(&mut ha1, &mut ha2, t0 + Duration::from_millis(1500), &[1]);
    assert_eq!(ha1.spare_pending.len(), 1);
    let all: Vec<u32> = (1..=8).collect();
    round(&mut ha1, &mut ha2, t0 + Duration::from_secs(3), &all);
    round(&mut ha1, &mut ha2, t0 + Duration::from_millis(4500), &all);
    // All eight answered blocks kept (at most `SPARE_PENDING`: 8, or 16 in an AVX2 build).
    assert_eq!(ha1.spare_pending.len(), all.len().min(SPARE_PENDING));
    assert_eq!(ha1.stats().forwarded, 18);
    assert_eq!(ha1.stats().relayed, 18);
}

/// The load this HA announces (the bindings it serves over its capacity, what the other members
/// select the serving HA by) is current after every registration and before every heartbeat:
/// it follows new bindings, stays through re-registrations (which change nothing it counts)
/// and follows deregistrations (RFC 5944 section 3.8.3: a lifetime of zero removes the
/// binding).
#[test]
fn the_announced_load_follows_the_bindings_served() {
    let t0 = Instant::now();
    // Alone (its peers not heard from): it serves every request itself.
    let mut h = ha(1, t0);
    let cap = h.table.max_bindings() as u32;
    let announced = |h: &HomeAgent| h.monitor.load(h.node);
    let expect = |n: u32| Some(crate::health::Load::new(n, cap));
    let mut s = 0;
    let mut send = |h: &mut HomeAgent, k: u32, lifetime: u16| {
        s += 1;
        let now = t0 + Duration::from_secs(s);
        let rrq = Builder::request(Request {
            lifetime,
            home_address: home(k),
            home_agent: VIP,
            care_of: Ipv4Addr::new(203, 0, 113, k as u8),
            identification: ntp(t0, now),
            ..Request::default()
        })
        .mn_ha_auth(&mn_sa(k))
        .to_vec();
        assert_eq!(h.handle_datagram(now, fa(), vip(), &rrq), Ok(()));
        drain(h);
        now
    };
    for k in 1..=8 {
        send(&mut h, k, 600);
        assert_eq!(h.table.owned_by(h.node), k as usize);
        assert_eq!(announced(&h), expect(k));
        send(&mut h, k, 600);
        assert_eq!(announced(&h), expect(k));
    }
    // A deregistration leaves the load to be set before the next heartbeat (the timer).
    for k in 1..=3 {
        let now = send(&mut h, k, 0);
        assert_eq!(h.table.owned_by(h.node), 8 - k as usize);
        h.handle_timeout(now);
        assert_eq!(announced(&h), expect(8 - k));
    }
    send(&mut h, 1, 600);
    assert_eq!(announced(&h), expect(6));
}

/// The first HA finds the binding a reply answers through the slot hint kept with the mobile
/// node's association, and whatever that hint holds (right, another binding's slot, a slot out
/// of range, none), the reply is matched to its own pending request (RFC 5944 section 3.8.3:
/// by home address and the Identification's low 32 bits) and makes that binding permanent,
/// leaving the others as they were; the hint is left naming the binding's slot.
#[test]
fn a_reply_finds_its_binding_whatever_the_slot_hint_holds() {
    let t0 = Instant::now();
    let (mut ha1, mut ha2) = (ha(1, t0), ha(2, t0));
    hear(&mut ha1, &mut ha2, t0);
    for k in 1..=3 {
        ha1.apply(t0, NodeId(2), Item::Upsert(permanent(k, 2, 2, 1)));
    }
    let _ = drain(&mut ha1);
    let slot = |h: &HomeAgent, k: u32| h.table.find(home(k), None).unwrap();
    let (s1, s2) = (slot(&ha1, 1), slot(&ha1, 2));
    let others = |h: &HomeAgent| [2, 3].map(|k| h.binding(home(k), None).unwrap().clone());
    let before = others(&ha1);
    for (i, hint) in [Some(s1), Some(s2), Some(9_999), None]
        .into_iter()
        .enumerate()
    {
        let now = t0 + Duration::from_secs(1 + i as u64);
        let id = ntp(t0, now);
        ha1.handle_datagram(now, fa(), vip(), &request(1, id))
            .unwrap();
        let replies: Vec<_> = drain(&mut ha1)
            .into_iter()
            .filter(|t| t.dst == addr(2))
            .flat_map(|t| {
                let _ = ha2.handle_datagram(now, addr(1), addr(2), &t.payload);
                drain(&mut ha2)
            })
            .filter(|t| t.dst == addr(1))
            .collect();
        assert!(!replies.is_empty(), "hint {hint:?}");
        ha1.sas.home_hinted(home(1)).unwrap().1.set(hint);
        for t in &replies {
            assert_eq!(
                ha1.handle_datagram(now, addr(2), addr(1), &t.payload),
                Ok(())
            );
        }
        let b = ha1.binding(home(1), None).unwrap();
        assert_eq!(b.state(), BindingState::Permanent, "hint {hint:?}");
        assert_eq!((b.identification, b.second_ha), (id, NodeId(2)));
        assert!(b.pending().is_none());
        assert_eq!(others(&ha1), before, "hint {hint:?}");
        assert_eq!(ha1.sas.home_hinted(home(1)).unwrap().1.get(), Some(s1));
        assert_eq!(ha1.stats().relayed, i as u64 + 1);
    }
    assert_eq!(ha1.stats().unmatched_replies, 0);
}

/// RFC 5944 section 3.6.1.3: a registration without the S bit replaces the binding's care-of
/// addresses (the mobile node moved); section 3.8.3: the tunnel to the old care-of address goes
/// with it. The caller is told once ([`Event::Deregistered`] for the old one, before the
/// [`Event::Registered`] of the new one); a refresh at the same care-of address removes
/// nothing, and with the S bit the others stay.
#[test]
fn a_move_to_another_care_of_address_removes_the_old_tunnel_once() {
    use crate::mip::wire::RequestFlags;
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    ha1.max_simultaneous = 2;
    let (c1, c2, c3) = (
        Ipv4Addr::new(203, 0, 113, 1),
        Ipv4Addr::new(203, 0, 113, 2),
        Ipv4Addr::new(203, 0, 113, 3),
    );
    let rrq = |flags: u8, care_of, identification| {
        Builder::request(Request {
            flags: RequestFlags(flags),
            lifetime: 600,
            home_address: home(1),
            home_agent: VIP,
            care_of,
            identification,
        })
        .mn_ha_auth(&mn_sa(1))
        .to_vec()
    };
    let mut id = ntp(t0, t0);
    let mut step = |ha1: &mut HomeAgent, flags: u8, care_of| -> Vec<Event> {
        id += 1;
        ha1.handle_datagram(t0, fa(), vip(), &rrq(flags, care_of, id))
            .unwrap();
        std::iter::from_fn(|| ha1.poll_event()).collect()
    };
    let gone = |events: &[Event]| -> Vec<Ipv4Addr> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Deregistered { tunnel, .. } | Event::Expired { tunnel, .. } => {
                    Some(tunnel.care_of)
                }
                _ => None,
            })
            .collect()
    };
    let _ = step(&mut ha1, 0, c1);
    assert_eq!(server(&ha1, 1), Some(NodeId(1)));
    // A refresh at the same care-of address.
    assert!(gone(&step(&mut ha1, 0, c1)).is_empty());
    // The move.
    let events = step(&mut ha1, 0, c2);
    assert_eq!(gone(&events), [c1], "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Registered { care_of, .. } if *care_of == c2))
    );
    // With the S bit the other care-of address stays; without it, both others go.
    let s = RequestFlags::S;
    assert!(gone(&step(&mut ha1, s, c3)).is_empty());
    let mut moved = gone(&step(&mut ha1, 0, c1));
    moved.sort_unstable();
    assert_eq!(moved, [c2, c3]);
    let b = ha1.binding(home(1), None).unwrap();
    let left: Vec<Ipv4Addr> = b.care_of.iter().map(|c| c.address).collect();
    assert_eq!(left, [c1]);
}

/// RFC 5944 sections 3.6.1.3 and 3.8.3: a simultaneous registration (S bit) served here for a
/// binding another member served keeps its other care-of addresses, which this HA now tunnels
/// to as well: the caller is told of each ([`Event::Registered`]), not only of the one
/// registered (session 41 sweep of the partial-deregistration scenario, seeds 167, 466, 665,
/// 778).
#[test]
fn a_simultaneous_registration_taking_a_binding_over_registers_every_care_of_address() {
    use crate::mip::wire::RequestFlags;
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    ha1.max_simultaneous = 2;
    let (c1, c2) = (Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2));
    ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
    let _ = std::iter::from_fn(|| ha1.poll_event()).count();
    let rrq = Builder::request(Request {
        flags: RequestFlags(RequestFlags::S),
        lifetime: 600,
        home_address: home(1),
        home_agent: VIP,
        care_of: c2,
        identification: ntp(t0, t0),
    })
    .mn_ha_auth(&mn_sa(1))
    .to_vec();
    ha1.handle_datagram(t0, fa(), vip(), &rrq).unwrap();
    assert_eq!(server(&ha1, 1), Some(NodeId(1)));
    let events: Vec<Event> = std::iter::from_fn(|| ha1.poll_event()).collect();
    let mut registered: Vec<Ipv4Addr> = events
        .iter()
        .filter_map(|e| match e {
            Event::Registered { care_of, .. } => Some(*care_of),
            _ => None,
        })
        .collect();
    registered.sort_unstable();
    assert_eq!(registered, [c1, c2], "{events:?}");
}
