//! The steering fabric's control messages are authenticated (fabric version 5,
//! `src/steering/fabric.rs`): the engineering bar's "only authenticated bytes may decide state".
//! A message that can decide state (a table, a VID, a replicated copy) is taken only sealed by
//! its sender with the fabric's AES-128-CMAC key (derived from the cluster key, RFC 4493), for
//! its receiver in the receiver's incarnation (so not after the receiver restarted), from the
//! switch processor's address when the switch processor sealed it, with a packet number fresh
//! in that sender's replay window; one that arrives
//! unsealed, with a bad MAC (a wrong key, an altered octet), or again (a replay) is refused with
//! `InputError::NotAuthorized`, counted in `fabric_refused`, and changes nothing. The source
//! address alone, which anyone on the fabric can forge, decides nothing.

mod common;

use common::steering::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId as HealthId};
use telcp::steering::fabric::{
    FabricMessage, FabricSealer, LINE_INTERFACES, SessionProtocol, SessionRecord, TableEntry,
    VidState,
};
use telcp::steering::gtp::Imsi;
use telcp::steering::{AuthError, InputError, LineInterface, Processor, VirtualId};

fn vid(n: u16) -> VirtualId {
    VirtualId::new(n).unwrap()
}

/// A key the gateway does not hold.
fn wrong_key() -> ClusterKey {
    ClusterKey::new(b"not the steering test key")
}

/// A table naming processors 11 (VID 1) and 12 (VID 2), both up.
fn table(v2: VidState) -> Vec<TableEntry> {
    vec![
        TableEntry {
            vid: vid(1),
            state: VidState::Up,
            addr: p_fabric(11),
        },
        TableEntry {
            vid: vid(2),
            state: v2,
            addr: p_fabric(12),
        },
    ]
}

/// The forgeries of `msg` an attacker on the fabric can send with the switch processor's source
/// address: unsealed, sealed with a wrong key as the switch processor, and `genuine` (sealed by
/// the switch processor) with one octet flipped in its body and in its MAC.
fn forgeries(msg: &FabricMessage<'_>, receiver: HealthId, genuine: &[u8]) -> Vec<Vec<u8>> {
    let mut wrong = FabricSealer::new(&wrong_key(), HealthId(1), 1);
    let mut body = genuine.to_vec();
    body[32] ^= 0x01;
    let mut mac = genuine.to_vec();
    *mac.last_mut().unwrap() ^= 0x80;
    vec![msg.to_vec(), wrong.seal(receiver, 1, msg), body, mac]
}

/// [`forgeries`] of `msg` for processor `to`, and `msg` sealed by the switch processor for
/// processor `other` (another receiver).
fn forgeries_for(msg: &FabricMessage<'_>, to: u32, other: u32) -> Vec<Vec<u8>> {
    let genuine = sealer(1).seal(HealthId(to), 1, msg);
    let mut all = forgeries(msg, HealthId(to), &genuine);
    all.push(sealer(1).seal(HealthId(other), 1, msg));
    all
}

fn not_authorized(r: Result<(), InputError>) -> bool {
    matches!(r, Err(InputError::NotAuthorized(_)))
}

/// A line interface (node 2) whose table holds version 5 from the switch processor.
fn line_with_table(now: Instant, switch: &mut FabricSealer) -> LineInterface {
    let mut li = LineInterface::new(line_config(1), now).unwrap();
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    let sealed = switch.seal(LINE_INTERFACES, 1, &update);
    li.handle_datagram(now, sp_fabric(), li_fabric(1), &sealed)
        .unwrap();
    assert_eq!(li.table().version(), 5);
    while li.poll_transmit().is_some() {}
    while li.poll_event().is_some() {}
    li
}

/// The line interface's table as (version, state of VID 2, address of VID 1).
fn table_of(li: &LineInterface) -> (u64, Option<VidState>, Option<SocketAddr>) {
    let t = li.table();
    (t.version(), t.state(vid(2)), t.addr(vid(1)))
}

/// A TableUpdate with the switch processor's source address but unsealed, sealed with a wrong
/// key, or with an octet flipped, is refused by the line interface: its table (version, states,
/// addresses) is unchanged, nothing is acknowledged, and each refusal is counted.
#[test]
fn a_forged_table_update_from_the_switch_address_is_refused_and_the_table_unchanged() {
    let now = Instant::now();
    let mut switch = sealer(1);
    let mut li = line_with_table(now, &mut switch);
    let before = table_of(&li);
    // A newer version that would mark VID 2 down and move VID 1 elsewhere.
    let forged = FabricMessage::TableUpdate {
        version: 9,
        entries: vec![
            TableEntry {
                vid: vid(1),
                state: VidState::Up,
                addr: sa([198, 51, 100, 66], 4000),
            },
            TableEntry {
                vid: vid(2),
                state: VidState::Down,
                addr: p_fabric(12),
            },
        ],
    };
    // The genuine message the octets are flipped in goes to another line interface.
    let genuine = sealer(1).seal(LINE_INTERFACES, 1, &forged);
    for (i, bytes) in forgeries(&forged, LINE_INTERFACES, &genuine)
        .iter()
        .enumerate()
    {
        let refused = li.stats().fabric_refused;
        let r = li.handle_datagram(now, sp_fabric(), li_fabric(1), bytes);
        assert!(not_authorized(r.clone()), "forgery {i}: {r:?}");
        assert_eq!(table_of(&li), before, "forgery {i}: the table unchanged");
        assert_eq!(
            li.stats().fabric_refused,
            refused + 1,
            "forgery {i}: counted"
        );
        assert_eq!(li.stats().updates_applied, 1);
        assert!(
            li.poll_transmit().is_none(),
            "forgery {i}: nothing acknowledged"
        );
        assert!(li.poll_event().is_none());
    }
    // Unsealed: refused as such, the kind named.
    assert_eq!(
        li.handle_datagram(now, sp_fabric(), li_fabric(1), &forged.to_vec()),
        Err(InputError::NotAuthorized(AuthError::Unsealed(
            telcp::steering::FabricKind::TableUpdate
        )))
    );
    // The switch processor's own next update is still taken.
    let next = FabricMessage::TableUpdate {
        version: 6,
        entries: table(VidState::Down),
    };
    let sealed = switch.seal(LINE_INTERFACES, 1, &next);
    li.handle_datagram(now, sp_fabric(), li_fabric(1), &sealed)
        .unwrap();
    assert_eq!(li.table().state(vid(2)), Some(VidState::Down));
}

/// A captured sealed TableUpdate sent again is a replay: refused, counted, not acknowledged
/// (a replay is not taken as the switch processor's word even where its version is stale).
#[test]
fn a_replayed_table_update_is_refused_and_changes_nothing() {
    let now = Instant::now();
    let mut switch = sealer(1);
    let mut li = LineInterface::new(line_config(1), now).unwrap();
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    let captured = switch.seal(LINE_INTERFACES, 1, &update);
    li.handle_datagram(now, sp_fabric(), li_fabric(1), &captured)
        .unwrap();
    while li.poll_transmit().is_some() {}
    while li.poll_event().is_some() {}
    let before = (table_of(&li), li.stats().updates_stale);
    let refused = li.stats().fabric_refused;
    let r = li.handle_datagram(now, sp_fabric(), li_fabric(1), &captured);
    assert!(
        matches!(
            r,
            Err(InputError::NotAuthorized(AuthError::Replayed { .. }))
        ),
        "{r:?}"
    );
    assert_eq!((table_of(&li), li.stats().updates_stale), before);
    assert_eq!(li.stats().fabric_refused, refused + 1);
    assert!(li.poll_transmit().is_none(), "a replay is not acknowledged");
}

/// A processor asking for its VID (`VidAssign` is taken only then).
fn asking_processor(id: u32, now: Instant) -> Processor {
    let mut p = Processor::new(processor_config(id, 1), now).unwrap();
    while p.poll_transmit().is_some() {}
    p
}

/// A VidAssign with the switch processor's source address but unsealed, sealed with a wrong
/// key, with an octet flipped, or sealed for another processor, is refused: the processor still
/// has no VID and is still asking; each refusal is counted. The genuine one is then taken.
#[test]
fn a_forged_vid_assign_from_the_switch_address_is_refused_and_the_vid_unchanged() {
    let now = Instant::now();
    let mut p = asking_processor(11, now);
    let forged = FabricMessage::VidAssign {
        processor: HealthId(11),
        incarnation: 1,
        vid: vid(9),
    };
    // The last one sealed by the switch processor, but for processor 12.
    for (i, bytes) in forgeries_for(&forged, 11, 12).iter().enumerate() {
        let refused = p.stats().fabric_refused;
        let r = p.handle_datagram(now, sp_fabric(), p_fabric(11), bytes);
        assert!(not_authorized(r.clone()), "forgery {i}: {r:?}");
        assert_eq!(p.vid(), None, "forgery {i}: no VID taken");
        assert_eq!(
            p.stats().fabric_refused,
            refused + 1,
            "forgery {i}: counted"
        );
        assert!(p.poll_event().is_none(), "forgery {i}: no event");
    }
    let assign = FabricMessage::VidAssign {
        processor: HealthId(11),
        incarnation: 1,
        vid: vid(4),
    };
    let sealed = sealer(1).seal(HealthId(11), 1, &assign);
    p.handle_datagram(now, sp_fabric(), p_fabric(11), &sealed)
        .unwrap();
    assert_eq!(p.vid(), Some(vid(4)));
}

/// A backup processor: processor 12 holding VID 2, its VID assigned by `switch`.
fn backup(now: Instant, switch: &mut FabricSealer) -> Processor {
    let mut p = asking_processor(12, now);
    let assign = FabricMessage::VidAssign {
        processor: HealthId(12),
        incarnation: 1,
        vid: vid(2),
    };
    p.handle_datagram(
        now,
        sp_fabric(),
        p_fabric(12),
        &switch.seal(HealthId(12), 1, &assign),
    )
    .unwrap();
    assert_eq!(p.vid(), Some(vid(2)));
    while p.poll_transmit().is_some() {}
    while p.poll_event().is_some() {}
    p
}

/// A session of primary VID 1 whose backup is VID 2.
fn record(version: u32) -> SessionRecord {
    SessionRecord {
        teid: layout().compose(vid(1), Some(vid(2)), 7).unwrap(),
        version,
        peer_teid_c: 0x100,
        peer_teid_u: 0x200,
        peer_c: IpAddr::V4(Ipv4Addr::from(SGSN_IP)),
        peer_u: IpAddr::V4(Ipv4Addr::from(SGSN_IP)),
        imsi: Imsi::from_digits("001010000000007").unwrap(),
        nsapi: 5,
        ue_addr: Ipv4Addr::new(10, 1, 2, 7),
        protocol: SessionProtocol::Gtpv1,
        peer_seid: 0,
    }
}

/// A Sync (TS 23.007 clause 23: the session state the backup serves from after a failure) with
/// the switch processor's source address but unsealed, sealed with a wrong key, with an octet
/// flipped, or sealed for another processor, is refused by the backup: it holds no copy, and
/// acknowledges nothing; each refusal is counted.
#[test]
fn a_forged_sync_from_the_switch_address_is_refused_and_no_copy_is_stored() {
    let now = Instant::now();
    let mut switch = sealer(1);
    let mut p = backup(now, &mut switch);
    let teid = record(1).teid;
    let forged = FabricMessage::Sync {
        delete: false,
        record: record(1),
    };
    for (i, bytes) in forgeries_for(&forged, 12, 13).iter().enumerate() {
        let refused = p.stats().fabric_refused;
        let r = p.handle_datagram(now, sp_fabric(), p_fabric(12), bytes);
        assert!(not_authorized(r.clone()), "forgery {i}: {r:?}");
        assert!(!p.has_session(teid), "forgery {i}: no copy");
        assert_eq!(p.shadow_count(), 0);
        assert_eq!(
            p.stats().fabric_refused,
            refused + 1,
            "forgery {i}: counted"
        );
        assert!(
            p.poll_transmit().is_none(),
            "forgery {i}: nothing acknowledged"
        );
    }
    // The switch processor's relay of it is taken.
    let sealed = switch.seal(HealthId(12), 1, &forged);
    p.handle_datagram(now, sp_fabric(), p_fabric(12), &sealed)
        .unwrap();
    assert!(p.has_session(teid));
}

/// A captured sealed Sync sent again after the session was deleted is a replay: refused,
/// counted, and the deleted session is not brought back (nor acknowledged).
#[test]
fn a_replayed_sync_does_not_bring_back_a_deleted_session() {
    let now = Instant::now();
    let mut switch = sealer(1);
    let mut p = backup(now, &mut switch);
    let teid = record(1).teid;
    let upsert = FabricMessage::Sync {
        delete: false,
        record: record(1),
    };
    let captured = switch.seal(HealthId(12), 1, &upsert);
    p.handle_datagram(now, sp_fabric(), p_fabric(12), &captured)
        .unwrap();
    assert!(p.has_session(teid));
    let delete = FabricMessage::Sync {
        delete: true,
        record: record(2),
    };
    p.handle_datagram(
        now,
        sp_fabric(),
        p_fabric(12),
        &switch.seal(HealthId(12), 1, &delete),
    )
    .unwrap();
    assert!(!p.has_session(teid));
    while p.poll_transmit().is_some() {}
    let refused = p.stats().fabric_refused;
    let r = p.handle_datagram(now, sp_fabric(), p_fabric(12), &captured);
    assert!(
        matches!(
            r,
            Err(InputError::NotAuthorized(AuthError::Replayed { .. }))
        ),
        "{r:?}"
    );
    assert!(
        !p.has_session(teid),
        "the deleted session is not brought back"
    );
    assert_eq!(p.shadow_count(), 0);
    assert_eq!(p.stats().fabric_refused, refused + 1);
    assert!(p.poll_transmit().is_none(), "a replay is not acknowledged");
}

/// A sealed message from a sender the receiver does not take sealed messages from is refused:
/// the switch processor's slot id from a processor's address other than that slot's, and a
/// processor's id sealing a message to a line interface.
#[test]
fn a_sealed_message_from_an_unknown_sender_is_refused() {
    let now = Instant::now();
    let mut li = LineInterface::new(line_config(1), now).unwrap();
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    // Processor 11 holds the key, but a line interface takes tables from the switch alone.
    let sealed = sealer(11).seal(LINE_INTERFACES, 1, &update);
    let r = li.handle_datagram(now, sp_fabric(), li_fabric(1), &sealed);
    assert_eq!(
        r,
        Err(InputError::NotAuthorized(AuthError::UnknownSender(
            HealthId(11)
        )))
    );
    assert_eq!(li.table().version(), 0);
    assert_eq!(li.stats().fabric_refused, 1);
}

/// The whole gateway on the simulator without loss: set-ups placed and replicated, a processor
/// fails, its sessions' updates are served by their backups, and no fabric message of the
/// gateway's own is refused anywhere (the seal changes nothing else: sealed relays of syncs,
/// tables, VID assignments and purges all get through).
#[test]
fn the_sealed_fabric_refuses_none_of_the_gateways_own_messages() {
    let mut gw = Gateway::new(52, 0.0, 2);
    gw.create_sessions(20);
    gw.settle();
    let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
    assert!(
        sessions.iter().all(|s| s.gw_teid_c != 0),
        "every set-up answered"
    );
    let victim_vid = gw.proc(12).vid().unwrap();
    let victims = sessions
        .iter()
        .filter(|s| layout().primary(s.gw_teid_c) == Some(victim_vid))
        .count();
    assert!(victims > 0);
    let n = gw.procs[&12];
    gw.sim.crash(n);
    gw.sim.run_for(Duration::from_secs(2));
    for i in 0..sessions.len() {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    gw.sim.run_for(Duration::from_secs(2));
    let sgsn = gw.sim.node::<Sgsn>(gw.sgsn);
    assert!(
        sgsn.sessions.iter().all(|s| s.updates_ok >= 1),
        "every session served after the failure"
    );
    assert!(gw.line(0).stats().to_backup >= victims as u64);
    assert_eq!(gw.line(0).stats().fabric_refused, 0);
    assert_eq!(gw.line(1).stats().fabric_refused, 0);
    assert_eq!(gw.sp().stats().fabric_refused, 0);
    for id in PROCS.iter().filter(|id| **id != 12) {
        assert_eq!(gw.proc(*id).stats().fabric_refused, 0, "processor {id}");
    }
}

// ---------------------------------------------------------------- fabric version 5: restarts

/// The receiver's incarnation a sealed fabric datagram names (octets 27-30), read by opening it
/// with the gateway's key.
fn named_incarnation(bytes: &[u8]) -> Option<u32> {
    sealer(99).open(bytes).ok()?.seal.map(|(_, _, named)| named)
}

/// A TableUpdate the switch processor sealed for a line interface before it restarted,
/// captured and sent again to the restarted line interface (same node id, incarnation 2, its
/// replay window empty), is refused: it names incarnation 1. The refusal is counted, the table
/// stays empty (version 0), and the line interface answers with a TableAck of the table it
/// holds (version 0), for the switch processor to push it the current one; that push, sealed
/// for incarnation 2, is taken.
#[test]
fn a_table_update_captured_before_a_line_interface_restarts_is_refused_after() {
    let now = Instant::now();
    let mut switch = sealer(1);
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    let captured = switch.seal(LINE_INTERFACES, 1, &update);
    let mut li = LineInterface::new(line_config(1), now).unwrap();
    li.handle_datagram(now, sp_fabric(), li_fabric(1), &captured)
        .unwrap();
    assert_eq!(li.table().version(), 5, "genuine for incarnation 1");
    // The line interface restarts: same node id, incarnation 2.
    let mut c = line_config(1);
    c.incarnation = 2;
    let mut li = LineInterface::new(c, now).unwrap();
    let r = li.handle_datagram(now, sp_fabric(), li_fabric(1), &captured);
    assert_eq!(
        r,
        Err(InputError::NotAuthorized(AuthError::StaleIncarnation {
            named: 1
        }))
    );
    assert_eq!(li.table().version(), 0, "the old table is not installed");
    assert_eq!(li.stats().fabric_refused, 1);
    assert_eq!(li.stats().updates_applied, 0);
    assert!(li.poll_event().is_none());
    let ack = li.poll_transmit().expect("the table held is acknowledged");
    assert_eq!(ack.dst, sp_fabric());
    assert_eq!(
        FabricMessage::inspect(&ack.payload),
        Ok(FabricMessage::TableAck { version: 0 })
    );
    assert!(li.poll_transmit().is_none());
    // The switch processor's push for incarnation 2 is taken.
    let fresh = switch.seal(LINE_INTERFACES, 2, &update);
    li.handle_datagram(now, sp_fabric(), li_fabric(1), &fresh)
        .unwrap();
    assert_eq!(li.table().version(), 5);
}

/// A Directed set-up (a Create PDP Context Request, TS 29.060 section 7.3.1) and a Sync the
/// switch processor sealed for processor 12 before it restarted, captured and sent again to
/// the restarted processor (same slot, incarnation 2, its VID assigned again, its replay window
/// holding packet numbers above the captured ones but within 64), are refused: they name
/// incarnation 1. Nothing is set up, no copy stored, nothing sent, each refusal counted.
#[test]
fn a_setup_or_sync_captured_before_a_processor_restarts_is_refused_after() {
    use common::gtp::{create_ies, create_request};
    let now = Instant::now();
    let mut switch = sealer(1);
    let mut before = backup(now, &mut switch);
    let directed = FabricMessage::Directed {
        backup: Some(vid(1)),
        from: sa(SGSN_IP, 2123),
        to: sa(GW_IP, 2123),
        data: std::borrow::Cow::Owned(create_request(1, &create_ies("001010000000099", 0x1234))),
    };
    let sync = FabricMessage::Sync {
        delete: false,
        record: record(1),
    };
    let captured = [
        switch.seal(HealthId(12), 1, &directed),
        switch.seal(HealthId(12), 1, &sync),
    ];
    // Genuine: processor 12 in incarnation 1 sets the session up and stores the copy.
    for bytes in &captured {
        before
            .handle_datagram(now, sp_fabric(), p_fabric(12), bytes)
            .unwrap();
    }
    assert_eq!(before.session_count(), 1);
    assert_eq!(before.shadow_count(), 1);
    // Processor 12 restarts (incarnation 2) and gets its VID again.
    let mut p = Processor::new(processor_config(12, 2), now).unwrap();
    let assign = FabricMessage::VidAssign {
        processor: HealthId(12),
        incarnation: 2,
        vid: vid(2),
    };
    p.handle_datagram(
        now,
        sp_fabric(),
        p_fabric(12),
        &switch.seal(HealthId(12), 2, &assign),
    )
    .unwrap();
    assert_eq!(p.vid(), Some(vid(2)));
    while p.poll_transmit().is_some() {}
    while p.poll_event().is_some() {}
    for (i, bytes) in captured.iter().enumerate() {
        let r = p.handle_datagram(now, sp_fabric(), p_fabric(12), bytes);
        assert_eq!(
            r,
            Err(InputError::NotAuthorized(AuthError::StaleIncarnation {
                named: 1
            })),
            "replay {i}"
        );
        assert_eq!(
            p.stats().fabric_refused,
            i as u64 + 1,
            "replay {i}: counted"
        );
    }
    assert_eq!(p.session_count(), 0, "no session set up anew");
    assert_eq!(p.shadow_count(), 0, "no copy stored");
    assert!(!p.has_session(record(1).teid));
    assert!(p.poll_transmit().is_none(), "nothing sent");
    assert!(p.poll_event().is_none());
}

/// A sealed message is refused as untrusted when it comes from an address other than the
/// switch processor's, before its packet number is looked at: the genuine message, delivered
/// first from another address (a processor's, a forged source) and then from the switch
/// processor's, is taken the second time (at a processor: a VID assignment; at a line
/// interface: a table). Each refusal is counted.
#[test]
fn a_genuine_message_first_sent_from_another_address_is_taken_from_the_switch_address() {
    let now = Instant::now();
    let mut p = asking_processor(11, now);
    let assign = FabricMessage::VidAssign {
        processor: HealthId(11),
        incarnation: 1,
        vid: vid(4),
    };
    let sealed = sealer(1).seal(HealthId(11), 1, &assign);
    let r = p.handle_datagram(now, p_fabric(13), p_fabric(11), &sealed);
    assert_eq!(
        r,
        Err(InputError::Untrusted(
            telcp::steering::FabricKind::VidAssign
        ))
    );
    assert_eq!(p.stats().fabric_refused, 1);
    assert_eq!(p.vid(), None);
    p.handle_datagram(now, sp_fabric(), p_fabric(11), &sealed)
        .unwrap();
    assert_eq!(p.vid(), Some(vid(4)));

    let mut li = LineInterface::new(line_config(1), now).unwrap();
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    let sealed = sealer(1).seal(LINE_INTERFACES, 1, &update);
    let r = li.handle_datagram(now, p_fabric(11), li_fabric(1), &sealed);
    assert_eq!(
        r,
        Err(InputError::Untrusted(
            telcp::steering::FabricKind::TableUpdate
        ))
    );
    assert_eq!(li.stats().fabric_refused, 1);
    assert_eq!(li.table().version(), 0);
    assert!(li.poll_transmit().is_none(), "not acknowledged");
    li.handle_datagram(now, sp_fabric(), li_fabric(1), &sealed)
        .unwrap();
    assert_eq!(li.table().version(), 5);
}

/// A line interface holding no table (version 0) says so to the switch processor: a sealed
/// TableAck of version 0 at its first timeout and every `hello_interval` after (200 ms here),
/// naming the switch processor's incarnation it knows (0: none yet). Once it holds a table it
/// has no timer left, and its acknowledgement names the incarnation of the switch processor
/// that sealed the table.
#[test]
fn a_line_interface_without_a_table_says_so_every_hello_interval_until_it_holds_one() {
    let t0 = Instant::now();
    let interval = line_config(1).hello_interval;
    let mut li = LineInterface::new(line_config(1), t0).unwrap();
    assert_eq!(li.poll_timeout(), Some(t0));
    let hello = |li: &mut LineInterface| {
        let t = li.poll_transmit().expect("a hello");
        assert!(li.poll_transmit().is_none());
        assert_eq!(t.dst, sp_fabric());
        assert_eq!(
            FabricMessage::inspect(&t.payload),
            Ok(FabricMessage::TableAck { version: 0 })
        );
        named_incarnation(&t.payload)
    };
    li.handle_timeout(t0);
    assert_eq!(
        hello(&mut li),
        Some(0),
        "the switch processor not known yet"
    );
    assert_eq!(li.poll_timeout(), Some(t0 + interval));
    li.handle_timeout(t0 + interval / 2);
    assert!(li.poll_transmit().is_none(), "not due yet");
    li.handle_timeout(t0 + interval);
    assert_eq!(hello(&mut li), Some(0));
    assert_eq!(li.poll_timeout(), Some(t0 + 2 * interval));
    // The switch processor (incarnation 3) pushes a table: taken, acknowledged, no more hellos.
    let mut switch = FabricSealer::new(&key(), HealthId(1), 3);
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    let sealed = switch.seal(LINE_INTERFACES, 1, &update);
    li.handle_datagram(t0 + interval, sp_fabric(), li_fabric(1), &sealed)
        .unwrap();
    let ack = li.poll_transmit().expect("acknowledged");
    assert_eq!(
        FabricMessage::inspect(&ack.payload),
        Ok(FabricMessage::TableAck { version: 5 })
    );
    assert_eq!(named_incarnation(&ack.payload), Some(3));
    assert_eq!(li.poll_timeout(), None);
    li.handle_timeout(t0 + 10 * interval);
    assert!(li.poll_transmit().is_none());
}

/// The switch processor learns a line interface's incarnation from its acknowledgements. A
/// TableAck under a higher incarnation than it knew (a line interface new, or restarted, says
/// which table it holds) sets the version it acknowledged even when lower (0), and the current
/// table goes to it at once, sealed for that incarnation; within one incarnation the version
/// acknowledged only rises.
#[test]
fn a_switch_processor_pushes_its_table_at_once_to_a_restarted_line_interface() {
    use telcp::steering::SwitchProcessor;
    let now = Instant::now();
    let mut sp = SwitchProcessor::new(switch_config(&[li_fabric(1)]), now).unwrap();
    while sp.poll_transmit().is_some() {}
    let current = sp.table_version();
    // The one fabric datagram to the line interface the switch processor queued: the table it
    // pushed (its version) and the receiver incarnation it names.
    let pushed = |sp: &mut SwitchProcessor| {
        let out: Vec<_> = std::iter::from_fn(|| sp.poll_transmit())
            .filter(|t| t.dst == li_fabric(1))
            .collect();
        assert_eq!(out.len(), 1, "one push: {out:?}");
        let version = match FabricMessage::inspect(&out[0].payload) {
            Ok(FabricMessage::TableUpdate { version, .. }) => version,
            m => panic!("not a table: {m:?}"),
        };
        (version, named_incarnation(&out[0].payload))
    };
    let ack = |line: &mut FabricSealer, version: u64| {
        line.seal(HealthId(1), 1, &FabricMessage::TableAck { version })
    };
    // Line interface node 2, incarnation 1: its hello.
    let mut line = sealer(2);
    sp.handle_datagram(now, li_fabric(1), sp_fabric(), &ack(&mut line, 0))
        .unwrap();
    assert_eq!(pushed(&mut sp), (current, Some(1)));
    sp.handle_datagram(now, li_fabric(1), sp_fabric(), &ack(&mut line, current))
        .unwrap();
    assert_eq!(sp.acked_version(li_fabric(1)), Some(current));
    // It restarts: incarnation 2, table version 0.
    let mut line = FabricSealer::new(&key(), HealthId(2), 2);
    sp.handle_datagram(now, li_fabric(1), sp_fabric(), &ack(&mut line, 0))
        .unwrap();
    assert_eq!(sp.acked_version(li_fabric(1)), Some(0), "it holds no table");
    assert_eq!(pushed(&mut sp), (current, Some(2)), "pushed at once");
    sp.handle_datagram(now, li_fabric(1), sp_fabric(), &ack(&mut line, current))
        .unwrap();
    assert_eq!(sp.acked_version(li_fabric(1)), Some(current));
    // Within incarnation 2, a lower version acknowledged changes nothing.
    sp.handle_datagram(now, li_fabric(1), sp_fabric(), &ack(&mut line, 0))
        .unwrap();
    assert_eq!(sp.acked_version(li_fabric(1)), Some(current));
    assert!(
        std::iter::from_fn(|| sp.poll_transmit()).all(|t| t.dst != li_fabric(1)),
        "no push"
    );
    assert_eq!(sp.stats().fabric_refused, 0);
}

/// The handshake kinds (`VidRequest`, `TableAck`) are taken whatever receiver incarnation they
/// name by the switch processor alone, the one receiver that takes them (fabric module docs). A
/// line interface and a processor never take them, so one sealed under the switch processor's
/// node id for an earlier incarnation of theirs is refused as stale like any other kind: counted,
/// and refused before its packet number enters the replay window. The proof of the last point:
/// a second sealer of the same switch processor incarnation numbers its packets from 1 again,
/// and its genuine message with packet number 1 (a VID assignment at the processor, a table at
/// the line interface) is then taken, which a window holding the refused one's packet number 1
/// would refuse as a replay.
#[test]
fn a_handshake_kind_sealed_for_an_earlier_incarnation_is_refused_by_lines_and_processors() {
    let now = Instant::now();
    let handshakes = [
        FabricMessage::VidRequest {
            processor: HealthId(12),
            incarnation: 1,
            current: None,
        },
        FabricMessage::TableAck { version: 3 },
    ];
    for (i, hs) in handshakes.iter().enumerate() {
        // Processor 12 in its incarnation 2, asking for its VID.
        let mut p = Processor::new(processor_config(12, 2), now).unwrap();
        while p.poll_transmit().is_some() {}
        let stale = sealer(1).seal(HealthId(12), 1, hs);
        let r = p.handle_datagram(now, sp_fabric(), p_fabric(12), &stale);
        assert_eq!(
            r,
            Err(InputError::NotAuthorized(AuthError::StaleIncarnation {
                named: 1
            })),
            "processor, handshake kind {i}"
        );
        assert_eq!(p.stats().fabric_refused, 1, "processor, kind {i}: counted");
        let assign = FabricMessage::VidAssign {
            processor: HealthId(12),
            incarnation: 2,
            vid: vid(2),
        };
        let genuine = sealer(1).seal(HealthId(12), 2, &assign);
        p.handle_datagram(now, sp_fabric(), p_fabric(12), &genuine)
            .unwrap();
        assert_eq!(
            p.vid(),
            Some(vid(2)),
            "processor, kind {i}: packet 1 still fresh"
        );

        // A line interface in its incarnation 2, no table yet.
        let mut c = line_config(1);
        c.incarnation = 2;
        let mut li = LineInterface::new(c, now).unwrap();
        let stale = sealer(1).seal(LINE_INTERFACES, 1, hs);
        let r = li.handle_datagram(now, sp_fabric(), li_fabric(1), &stale);
        assert_eq!(
            r,
            Err(InputError::NotAuthorized(AuthError::StaleIncarnation {
                named: 1
            })),
            "line interface, handshake kind {i}"
        );
        assert_eq!(li.stats().fabric_refused, 1, "line, kind {i}: counted");
        // Refused for the incarnation it names, from the switch processor's address: answered
        // with the version held, as any stale message is.
        let ack = li.poll_transmit().expect("the table held is acknowledged");
        assert_eq!(
            FabricMessage::inspect(&ack.payload),
            Ok(FabricMessage::TableAck { version: 0 })
        );
        let update = FabricMessage::TableUpdate {
            version: 5,
            entries: table(VidState::Up),
        };
        let genuine = sealer(1).seal(LINE_INTERFACES, 2, &update);
        li.handle_datagram(now, sp_fabric(), li_fabric(1), &genuine)
            .unwrap();
        assert_eq!(
            li.table().version(),
            5,
            "line, kind {i}: packet 1 still fresh"
        );
    }
}

/// The answers to messages naming another incarnation of a line interface are bounded by
/// `LineConfig::stale_answers` (a token bucket, `RateLimit`): replays of captured switch
/// processor messages at a restarted line interface are each refused and counted, but draw no
/// more `TableAck`s than the bucket holds (here bursts of 2, one a second); the rest are
/// suppressed and counted, and the bucket refills with time.
#[test]
fn the_answers_to_stale_incarnation_messages_are_rate_limited() {
    use telcp::steering::limit::RateLimit;
    let now = Instant::now();
    let mut switch = sealer(1);
    let update = FabricMessage::TableUpdate {
        version: 5,
        entries: table(VidState::Up),
    };
    let captured: Vec<Vec<u8>> = (0..5)
        .map(|_| switch.seal(LINE_INTERFACES, 1, &update))
        .collect();
    let mut c = line_config(1);
    c.incarnation = 2;
    c.stale_answers = RateLimit::new(1, 2);
    let mut li = LineInterface::new(c, now).unwrap();
    let mut answers = 0;
    for (i, bytes) in captured.iter().enumerate() {
        let r = li.handle_datagram(now, sp_fabric(), li_fabric(1), bytes);
        assert_eq!(
            r,
            Err(InputError::NotAuthorized(AuthError::StaleIncarnation {
                named: 1
            })),
            "replay {i}"
        );
        while let Some(t) = li.poll_transmit() {
            assert_eq!(
                t.dst,
                sp_fabric(),
                "answers go to the switch processor only"
            );
            answers += 1;
        }
    }
    assert_eq!(
        li.stats().fabric_refused,
        5,
        "every replay refused and counted"
    );
    assert_eq!(answers, 2, "a burst of 2");
    assert_eq!(
        (
            li.stats().stale_answers,
            li.stats().stale_answers_suppressed
        ),
        (2, 3)
    );
    assert_eq!(li.table().version(), 0, "nothing installed");
    // A second later the bucket holds one token again.
    let later = now + Duration::from_secs(1);
    let again = switch.seal(LINE_INTERFACES, 1, &update);
    let _ = li.handle_datagram(later, sp_fabric(), li_fabric(1), &again);
    assert!(li.poll_transmit().is_some(), "answered after the refill");
    assert_eq!(li.stats().stale_answers, 3);
}
