//! Fuzz harnesses of the steering subsystem.

use crate::steering::gtp::{self, Message};

/// The bytes `gtp::Message::emit` produces for a datagram that parsed: the same, except the
/// fields a receiver ignores (the spare flag bit, and optional fields whose flag is clear) set to
/// zero.
fn canonical_gtp(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let Some(&flags) = data.first() else {
        return out;
    };
    if let Some(b) = out.get_mut(0) {
        *b &= !0x08;
    }
    if flags & 0x07 != 0 {
        if flags & 0x02 == 0 {
            out.iter_mut().skip(8).take(2).for_each(|b| *b = 0);
        }
        if flags & 0x01 == 0 {
            out.iter_mut().skip(10).take(1).for_each(|b| *b = 0);
        }
        if flags & 0x04 == 0 {
            out.iter_mut().skip(11).take(1).for_each(|b| *b = 0);
        }
    }
    out
}

/// Parses `data` as a GTPv1 message; when it parses, emitting it gives back the canonical bytes
/// and parsing those gives back the same message. Never panics otherwise.
pub fn gtp_message(data: &[u8]) {
    let Ok(msg) = gtp::parse(data) else {
        return;
    };
    let out = msg.to_vec();
    assert!(out.is_ok(), "a parsed message must be emittable");
    let out = out.unwrap_or_default();
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(out, canonical_gtp(data), "emit(parse(b)) must be b");
    let again: Result<Message<'_>, _> = gtp::parse(&out);
    assert_eq!(again.as_ref(), Ok(&msg), "parse(emit(m)) must be m");
    let view = gtp::GtpView::new_checked(data);
    assert!(view.is_ok());
    if let Ok(v) = view {
        assert_eq!(v.teid(), msg.header.teid);
        assert_eq!(v.message_type(), msg.message_type());
    }
}

mod wire;

use wire::{gw_port, switch_gtp_packet, switch_path_packet, well_formed};

use crate::health::{ClusterKey, NodeId, Policy};
use crate::steering::fabric::{
    FabricMessage, FabricSealer, LINE_INTERFACES, SessionProtocol, SessionRecord, TableEntry,
    VidState,
};
use crate::steering::gtp::Imsi;
use crate::steering::line::{LineConfig, LineInterface, Verdict, VidTable};
use crate::steering::switch::{SwitchConfig, SwitchProcessor};
use crate::steering::{VidLayout, VirtualId};
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn addr(a: u8, b: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(172, 16, a, b)), port)
}

const ONE: VirtualId = match VirtualId::new(1) {
    Some(v) => v,
    None => panic!("1 is a VID"),
};

fn vid(n: u16) -> VirtualId {
    VirtualId::new(n).unwrap_or(ONE)
}

/// The cluster key of every steering harness's machines.
fn fuzz_key() -> ClusterKey {
    ClusterKey::new(b"fuzz cluster key")
}

/// The node id of the harnesses' line interface.
const LINE_NODE: NodeId = NodeId(21);

/// `msg` (an unsealed fabric message's octets) as `sealer` sends it to `receiver` (every
/// harness machine is in incarnation 1): sealed when its kind must be (fabric version 5), else
/// as it is (also when it does not parse), so that the fuzz input reaches the machines' state
/// past the seal.
fn sealed(sealer: &mut FabricSealer, receiver: NodeId, msg: Vec<u8>) -> Vec<u8> {
    match FabricMessage::parse(&msg) {
        Ok(m) if m.is_sealed_kind() => sealer.seal(receiver, 1, &m),
        _ => msg,
    }
}

/// Steers `data` through a line interface with a fixed table, as an outside packet to each of
/// the GTP-U, GTP-C, PFCP and L2TP ports and as a fabric datagram. Checks: never panics; `steer`
/// and `steer_batch` agree with the table's; `steer_port` agrees with what `handle_datagram`
/// counts and forwards; a forwarded packet is wrapped unchanged; the table version never goes
/// back. `now` is the caller's instant (the harness never reads the clock).
pub fn steering_line(now: Instant, data: &[u8]) {
    use crate::steering::{gtp, pfcp};
    for port in [
        gtp::GTP_U_PORT,
        gtp::GTP_C_PORT,
        pfcp::PFCP_PORT,
        crate::l2tp::L2TP_PORT,
    ] {
        line_at_port(now, data, port);
    }
    line_downlink(now, data);
}

/// [`steering_line`]'s downlink part: `data` as an IP packet from the SGi / N6 side.
/// `steer_downlink` agrees with the batch form and with what `handle_downlink` counts and
/// forwards (the packet unchanged, to the verdict's processor, addresses with port 0); a packet
/// to an address of a slice is steered as a TEID with the slice's VIDs.
fn line_downlink(now: Instant, data: &[u8]) {
    let Some(mut li) = fuzz_line(now) else {
        return;
    };
    let table = li.table();
    let verdict = li.steer_downlink(data);
    let mut out = [Verdict::Switch; 2];
    assert_eq!(li.steer_downlink_batch(&[data, data], &mut out), 2);
    assert_eq!(out, [verdict, verdict]);
    if let (Some(pool), Some((_, IpAddr::V4(dst)))) =
        (table.ue_pool(), crate::steering::line::ip_addresses(data))
    {
        if let Some((p, b, local)) = pool.slot_v4(dst) {
            let layout = table.layout();
            if let Ok(teid) = layout.compose(p, b, local) {
                let g_pdu = Message::g_pdu(teid, &b""[..]).to_vec().unwrap_or_default();
                assert_eq!(table.steer(&g_pdu), verdict, "downlink as uplink");
            }
        }
    }
    let r = li.handle_downlink(now, data);
    let sent = li.poll_transmit();
    match verdict {
        Verdict::Processor { vid, .. } => {
            assert!(r.is_ok());
            let Some(t) = sent else {
                panic!("a steered downlink packet is forwarded");
            };
            assert_eq!(Some(t.dst), table.addr(vid));
            match FabricMessage::parse(&t.payload) {
                Ok(FabricMessage::Packet { from, to, data: d }) => {
                    assert_eq!(&*d, data);
                    assert_eq!((from.port(), to.port()), (0, 0));
                }
                other => panic!("not a Packet: {other:?}"),
            }
        }
        Verdict::Drop(reason) => {
            assert_eq!(r, Err(crate::steering::InputError::Dropped(reason)));
            assert!(sent.is_none());
            assert_eq!(li.stats().drops(reason), 1);
        }
        Verdict::Switch => panic!("a downlink packet never goes to the switch processor"),
    }
}

/// [`steering_line`] for one destination port.
fn line_at_port(now: Instant, data: &[u8], port: u16) {
    let Some(mut li) = fuzz_line(now) else {
        return;
    };
    let table: std::sync::Arc<VidTable> = li.table();
    assert_eq!(li.steer(data), table.steer(data));
    let by_bits = table.steer(data);
    let mut out = [Verdict::Switch; 2];
    assert_eq!(li.steer_batch(&[data, data], &mut out), 2);
    assert_eq!(out, [by_bits, by_bits]);
    // On a port of no protocol, the version bits decide alone.
    assert_eq!(table.steer_port(9, data), by_bits);
    let verdict = table.steer_port(port, data);
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port);
    let gw = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port);
    if port == crate::steering::pfcp::PFCP_PORT
        && crate::steering::pfcp::bundle(data).nth(1).is_some()
    {
        check_line_bundle(&mut li, &table, LineEnds { now, peer, gw }, data);
        return;
    }
    let other_version = (port == crate::steering::gtp::GTP_C_PORT
        && crate::steering::gtp::version(data).is_some_and(|v| v != 1 && v != 2))
        || (port == crate::steering::pfcp::PFCP_PORT && data.first().is_some_and(|f| f >> 5 != 1));
    let r = li.handle_datagram(now, peer, gw, data);
    let sent = li.poll_transmit();
    let ends = LineEnds { now, peer, gw };
    match verdict {
        _ if other_version => {
            assert!(r.is_ok());
            assert_eq!(li.stats().other_version, 1);
            assert_eq!(sent.map(|t| t.dst), Some(addr(0, 100, 4000)));
        }
        Verdict::Drop(reason) => {
            assert!(r.is_err());
            check_line_drop(&mut li, ends, reason, sent, data);
        }
        Verdict::Switch | Verdict::Processor { .. } => {
            assert!(r.is_ok());
            check_line_forward(&table, verdict, sent, ends, data);
        }
    }
    if port == crate::steering::gtp::GTP_U_PORT {
        check_line_other_version(&mut li, ends, data);
        check_line_non_existent(&mut li, ends, verdict, data);
    }
    // The same bytes as a fabric datagram from the switch: unsealed, a kind that must be sealed
    // is refused (not authorized) and changes nothing.
    let (switch, line) = (addr(0, 100, 4000), addr(0, 1, 4000));
    let before = li.table().version();
    let refused = li.stats().fabric_refused;
    let r = li.handle_datagram(now, switch, line, data);
    let parsed = FabricMessage::parse(data);
    if parsed.as_ref().is_ok_and(FabricMessage::is_sealed_kind) {
        assert!(matches!(
            r,
            Err(crate::steering::InputError::NotAuthorized(_))
        ));
        assert_eq!(
            li.table().version(),
            before,
            "unsealed: the table unchanged"
        );
        assert_eq!(li.stats().fabric_refused, refused + 1, "unsealed: counted");
    }
    assert!(li.table().version() >= before);
    // Sealed by the switch processor: taken (the table never goes back); the same datagram
    // again is a replay, refused, and changes nothing.
    if let Ok(m) = parsed {
        let mut sp = FabricSealer::new(&fuzz_key(), NodeId(1), 1);
        let sealed = sp.seal(LINE_INTERFACES, 1, &m);
        let _ = li.handle_datagram(now, switch, line, &sealed);
        let after = li.table().version();
        assert!(after >= before);
        if m.is_sealed_kind() {
            let r = li.handle_datagram(now, switch, line, &sealed);
            assert!(
                matches!(r, Err(crate::steering::InputError::NotAuthorized(_))),
                "a replay is refused: {r:?}"
            );
            assert_eq!(li.table().version(), after, "a replay changes nothing");
            // Sealed for another incarnation of the line interface (it is in incarnation 1; 0:
            // a switch processor that does not know it): refused, counted, the table
            // unchanged, and answered with one TableAck of the version held. Every sealed kind,
            // the handshake kinds (VidRequest, TableAck) too: only the switch processor takes
            // those whatever incarnation they name.
            while li.poll_transmit().is_some() {}
            let refused = li.stats().fabric_refused;
            let named = if data.len() % 2 == 0 { 0 } else { 2 };
            let stale = sp.seal(LINE_INTERFACES, named, &m);
            let r = li.handle_datagram(now, switch, line, &stale);
            assert!(
                matches!(
                    r,
                    Err(crate::steering::InputError::NotAuthorized(
                        crate::steering::AuthError::StaleIncarnation { .. }
                    ))
                ),
                "another incarnation is refused: {r:?}"
            );
            assert_eq!(li.table().version(), after, "and changes nothing");
            assert_eq!(li.stats().fabric_refused, refused + 1, "counted");
            let ack = li.poll_transmit().map(|t| t.payload);
            let ack = ack.as_deref().map(FabricMessage::inspect);
            assert_eq!(ack, Some(Ok(FabricMessage::TableAck { version: after })));
            // Another such message at the same instant: refused and counted the same, but past
            // the one-answer rate limit, not answered (the suppression counted).
            let again = sp.seal(LINE_INTERFACES, named, &m);
            let r = li.handle_datagram(now, switch, line, &again);
            assert!(
                matches!(
                    r,
                    Err(crate::steering::InputError::NotAuthorized(
                        crate::steering::AuthError::StaleIncarnation { .. }
                    ))
                ),
                "another incarnation is refused again: {r:?}"
            );
            assert_eq!(li.stats().fabric_refused, refused + 2, "counted again");
            assert!(
                li.poll_transmit().is_none(),
                "past the rate limit: no answer"
            );
            assert_eq!(
                (
                    li.stats().stale_answers,
                    li.stats().stale_answers_suppressed
                ),
                (1, 1)
            );
        }
    }
    while li.poll_transmit().is_some() {}
    assert!(li.poll_timeout().is_none());
}

/// The instant and the two ends of the line harness's datagrams.
#[derive(Clone, Copy)]
struct LineEnds {
    now: Instant,
    peer: SocketAddr,
    gw: SocketAddr,
}

/// A line interface with a small queue, one-answer rate limits and a table of three VIDs
/// (1 Up, 2 Down, 3 Up).
fn fuzz_line(now: Instant) -> Option<LineInterface> {
    let layout = VidLayout::default();
    let l2tp = VidLayout::id16(4, 4).ok();
    let config = LineConfig {
        fabric_addr: addr(0, 1, 4000),
        switch_addr: addr(0, 100, 4000),
        id: LINE_NODE,
        incarnation: 1,
        switch_node: NodeId(1),
        key: fuzz_key(),
        layout,
        l2tp_layout: l2tp,
        ue_pool: crate::steering::ue_pool::UePool::new(
            &layout,
            ipnetwork::Ipv4Network::new(Ipv4Addr::new(10, 0, 0, 0), 8).ok()?,
            "2001:db8::/32".parse().ok(),
        )
        .ok(),
        queue_limit: 4,
        event_limit: 4,
        error_indications: crate::steering::limit::RateLimit::new(1, 1),
        non_existent: crate::steering::limit::RateLimit::new(1, 1),
        extension_headers: crate::steering::limit::RateLimit::new(1, 1),
        hello_interval: Duration::from_secs(1),
        stale_answers: crate::steering::limit::RateLimit::new(1, 1),
    };
    let mut li = LineInterface::new(config, now).ok()?;
    let entries = [
        TableEntry {
            vid: vid(1),
            state: VidState::Up,
            addr: addr(1, 1, 4000),
        },
        TableEntry {
            vid: vid(2),
            state: VidState::Down,
            addr: addr(1, 2, 4000),
        },
        TableEntry {
            vid: vid(3),
            state: VidState::Up,
            addr: addr(1, 3, 4000),
        },
    ];
    assert!(li.apply_update(5, &entries));
    Some(li)
}

/// A dropped packet is counted; only a G-PDU with a non-zero TEID naming no VID is answered.
fn check_line_drop(
    li: &mut LineInterface,
    LineEnds { now, peer, gw }: LineEnds,
    reason: crate::steering::line::DropReason,
    sent: Option<crate::Transmit>,
    data: &[u8],
) {
    assert_eq!(li.stats().dropped.iter().sum::<u64>(), 1);
    // Only a G-PDU with a non-zero TEID naming no VID is answered: an Error Indication
    // back to its source, carrying its TEID.
    let gtpv1 =
        crate::steering::common::wire(gw.port(), data) == crate::steering::common::Wire::Gtpv1;
    let g_pdu = data.get(..8).and_then(|h| {
        let teid = u32::from_be_bytes([*h.get(4)?, *h.get(5)?, *h.get(6)?, *h.get(7)?]);
        (gtpv1 && h.first()? & 0xf0 == 0x30 && *h.get(1)? == 0xff && teid != 0).then_some(teid)
    });
    match (reason, g_pdu) {
        (crate::steering::line::DropReason::UnknownVid, Some(teid)) => {
            let Some(t) = sent else {
                panic!("an unknown TEID is answered with an Error Indication");
            };
            assert_eq!(t.dst, SocketAddr::new(peer.ip(), 2152));
            assert_eq!(t.src, Some(gw));
            let ei = crate::steering::gtp::parse(&t.payload);
            let ei = ei.as_ref().ok();
            assert_eq!(ei.and_then(|m| m.teid_data_i()), Some(teid));
            assert_eq!(ei.and_then(|m| m.gtp_u_peer_address()), Some(gw.ip()));
            // The bucket (one answer) is empty now: the repeat is counted, not sent.
            let _ = li.handle_datagram(now, peer, gw, data);
            assert!(li.poll_transmit().is_none());
            assert_eq!(li.stats().error_indications_suppressed, 1);
        }
        // On the GTP-C port an Update / Delete PDP Context Request naming no VID is answered
        // (Non-existent, or a Supported Extension Headers Notification; their contents are
        // checked on the GTP-U round by `check_line_non_existent`): back to its source only.
        (crate::steering::line::DropReason::UnknownVid, None)
            if gtpv1 && gw.port() == crate::steering::gtp::GTP_C_PORT =>
        {
            if let Some(t) = sent {
                assert_eq!((t.dst, t.src), (peer, Some(gw)));
            }
        }
        // A GTPv2-C (GTP-C port) or PFCP request naming no VID may be answered (Context Not
        // Found, Session context not found, Invalid Length): back to its source only.
        (crate::steering::line::DropReason::UnknownVid, None)
            if gw.port() == crate::steering::gtp::GTP_C_PORT
                || gw.port() == crate::steering::pfcp::PFCP_PORT =>
        {
            if let Some(t) = sent {
                assert_eq!((t.dst, t.src), (peer, Some(gw)));
            }
        }
        _ => assert!(sent.is_none()),
    }
}

/// A PFCP bundle (FO = 1, more than one message): its messages ([`crate::steering::pfcp::bundle`],
/// non-empty, `data` when joined) are steered one by one: every datagram forwarded is one of the
/// first `MAX_BUNDLE` messages, in order, to the processor of its own verdict (the switch for
/// another version); anything else sent is an answer back to the peer; the bundle is counted,
/// and one of more than `MAX_BUNDLE` messages is cut, counted and reported.
fn check_line_bundle(
    li: &mut LineInterface,
    table: &VidTable,
    LineEnds { now, peer, gw }: LineEnds,
    data: &[u8],
) {
    use crate::steering::pfcp::{MAX_BUNDLE, PFCP_PORT, bundle};
    let parts: Vec<&[u8]> = bundle(data).collect();
    assert_eq!(
        parts.concat(),
        data,
        "the messages of a bundle are the datagram"
    );
    assert!(parts.iter().all(|p| !p.is_empty()));
    let r = li.handle_datagram(now, peer, gw, data);
    let taken = parts.get(..MAX_BUNDLE.min(parts.len())).unwrap_or_default();
    let mut next = 0;
    while let Some(t) = li.poll_transmit() {
        let Ok(FabricMessage::Packet { from, to, data: d }) = FabricMessage::parse(&t.payload)
        else {
            assert_eq!(
                (t.dst, t.src),
                (peer, Some(gw)),
                "an answer goes back to the peer"
            );
            continue;
        };
        assert_eq!((from, to), (peer, gw));
        let Some(i) = taken
            .get(next..)
            .and_then(|rest| rest.iter().position(|p| **p == *d))
        else {
            panic!("a forwarded datagram is a message of the bundle, in order");
        };
        let part = taken.get(next + i).copied().unwrap_or_default();
        let want = match table.steer_port(PFCP_PORT, part) {
            _ if part.first().is_some_and(|f| f >> 5 != 1) => Some(addr(0, 100, 4000)),
            Verdict::Processor { vid, .. } => table.addr(vid),
            Verdict::Switch => Some(addr(0, 100, 4000)),
            Verdict::Drop(_) => panic!("a dropped message is not forwarded"),
        };
        assert_eq!(Some(t.dst), want);
        next += i + 1;
    }
    let s = li.stats();
    assert_eq!(s.pfcp_bundles, 1);
    assert_eq!(s.pfcp_bundle_excess, u64::from(parts.len() > MAX_BUNDLE));
    assert!(
        parts.len() <= MAX_BUNDLE || r.is_err(),
        "a cut bundle is reported"
    );
}

/// A steered packet is forwarded, wrapped unchanged, to the switch or to its VID's processor.
fn check_line_forward(
    table: &VidTable,
    verdict: Verdict,
    sent: Option<crate::Transmit>,
    LineEnds { peer, gw, .. }: LineEnds,
    data: &[u8],
) {
    let Some(t) = sent else {
        panic!("a steered packet is forwarded");
    };
    let want = match verdict {
        Verdict::Processor { vid, .. } => table.addr(vid),
        _ => Some(addr(0, 100, 4000)),
    };
    assert_eq!(Some(t.dst), want);
    let parsed = FabricMessage::parse(&t.payload);
    assert_eq!(
        parsed,
        Ok(FabricMessage::Packet {
            from: peer,
            to: gw,
            data: Cow::Borrowed(data),
        })
    );
}

fn check_line_other_version(
    li: &mut LineInterface,
    LineEnds { now, peer, gw }: LineEnds,
    data: &[u8],
) {
    // To the GTP-C port, any GTP version but 1 and 2 goes to the switch processor (which
    // answers Version Not Supported), whatever the steering table says.
    if crate::steering::gtp::version(data).is_some_and(|v| v != 1 && v != 2) {
        let gc = SocketAddr::new(gw.ip(), 2123);
        let before = li.stats().other_version;
        let r = li.handle_datagram(now, peer, gc, data);
        let sent = li.poll_transmit();
        assert!(r.is_ok());
        assert_eq!(li.stats().other_version, before + 1);
        assert_eq!(sent.map(|t| t.dst), Some(addr(0, 100, 4000)));
    }
}

fn check_line_non_existent(
    li: &mut LineInterface,
    LineEnds { now, peer, gw }: LineEnds,
    verdict: Verdict,
    data: &[u8],
) {
    // To the GTP-C port, an Update / Delete PDP Context Request (with a sequence number) naming
    // no VID is answered with the matching response: Cause Non-existent, TEID 0, the request's
    // sequence number, back to its source from the address it was sent to. Nothing else
    // dropped there is answered.
    if crate::steering::gtp::version(data) == Some(1)
        && verdict == Verdict::Drop(crate::steering::line::DropReason::UnknownVid)
    {
        use crate::steering::gtp::{Cause, MessageType};
        let gc = SocketAddr::new(gw.ip(), 2123);
        let pc = SocketAddr::new(peer.ip(), 2123);
        let _ = li.handle_datagram(now, pc, gc, data);
        let sent = li.poll_transmit();
        let req = crate::steering::gtp::parse(data).ok().filter(|m| {
            m.header.sequence.is_some()
                && matches!(
                    m.message_type(),
                    MessageType::UPDATE_PDP_CONTEXT_REQUEST
                        | MessageType::DELETE_PDP_CONTEXT_REQUEST
                )
        });
        // One with an unsupported comprehension-required extension header gets a Supported
        // Extension Headers Notification instead (TS 29.060 section 6.1).
        let unsupported = |m: &Message<'_>| {
            m.header
                .unsupported_extension(crate::steering::gtp::supported_extension_headers(2123))
                .is_some()
        };
        match req {
            Some(req) if unsupported(&req) => {
                let Some(t) = sent else {
                    panic!("an Update / Delete with an unknown required extension is notified");
                };
                assert_eq!((t.dst, t.src), (pc, Some(gc)));
                let n = crate::steering::gtp::parse(&t.payload);
                assert_eq!(
                    n.as_ref().ok().map(|m| m.message_type()),
                    Some(MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION)
                );
                let _ = li.handle_datagram(now, pc, gc, data);
                assert!(li.poll_transmit().is_none());
                assert_eq!(li.stats().extension_headers_suppressed, 1);
                assert_eq!(li.stats().non_existent, 0);
            }
            Some(req) => {
                let Some(t) = sent else {
                    panic!("an Update / Delete naming no VID is answered Non-existent");
                };
                assert_eq!((t.dst, t.src), (pc, Some(gc)));
                let resp = crate::steering::gtp::parse(&t.payload);
                let resp = resp.as_ref().ok();
                assert_eq!(
                    resp.map(|m| m.message_type().0),
                    Some(req.message_type().0 + 1)
                );
                assert_eq!(resp.map(|m| m.header.teid), Some(0));
                assert_eq!(resp.and_then(|m| m.header.sequence), req.header.sequence);
                assert_eq!(resp.and_then(|m| m.cause()), Some(Cause::NON_EXISTENT));
                // The bucket (one answer) is empty now: the repeat is counted, not sent.
                let _ = li.handle_datagram(now, pc, gc, data);
                assert!(li.poll_transmit().is_none());
                assert_eq!(li.stats().non_existent_suppressed, 1);
            }
            // A Create, Update or Delete PDP Context Request whose Length field disagrees with
            // the datagram (so the codec refuses it) gets the matching response with Cause
            // Invalid message format (193), TEID 0 and the request's sequence number (TS 29.060
            // section 11.1.2), read here from the fixed header itself (GTP, not GTP': PT set; S
            // set); nothing else is answered.
            None => {
                let declared = data
                    .get(2..4)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
                let inconsistent = data.len() >= 12
                    && data[0] & 0x12 == 0x12
                    && declared != Some(data.len() - 8)
                    && matches!(data[1], 16 | 18 | 20);
                if !inconsistent {
                    assert!(sent.is_none());
                    return;
                }
                let Some(t) = sent else {
                    panic!("a PDP context request whose Length disagrees is answered 193");
                };
                assert_eq!((t.dst, t.src), (pc, Some(gc)));
                let resp = crate::steering::gtp::parse(&t.payload);
                let resp = resp.as_ref().ok();
                assert_eq!(resp.map(|m| m.message_type().0), Some(data[1] + 1));
                assert_eq!(resp.map(|m| m.header.teid), Some(0));
                assert_eq!(
                    resp.and_then(|m| m.header.sequence),
                    Some(u16::from_be_bytes([data[8], data[9]]))
                );
                assert_eq!(
                    resp.and_then(|m| m.cause()),
                    Some(Cause::INVALID_MESSAGE_FORMAT)
                );
            }
        }
    }
}

/// The switch processor's configuration; with `teid_ranges`, a 3 + 3-bit TEID layout the TEID
/// Range Indication describes (TS 29.244 section 8.2.82) and no L2TP layout.
fn switch_config(teid_ranges: bool) -> SwitchConfig {
    let (layout, l2tp_layout) = match VidLayout::teid32(3, 3) {
        Ok(l) if teid_ranges => (l, None),
        _ => (VidLayout::default(), VidLayout::id16(4, 4).ok()),
    };
    SwitchConfig {
        node: NodeId(1),
        incarnation: 1,
        rejoin_grace: Duration::from_millis(500),
        fabric_addr: addr(0, 100, 4000),
        line_interfaces: vec![addr(0, 1, 4000)],
        processors: vec![
            (NodeId(11), addr(1, 11, 4000)),
            (NodeId(12), addr(1, 12, 4000)),
            (NodeId(13), addr(1, 13, 4000)),
        ],
        layout,
        l2tp_layout,
        recovery: 1,
        max_sessions: 8,
        max_recent: 4,
        recent_window: Duration::from_secs(1),
        retransmit: Duration::from_millis(50),
        line_ack_timeout: Duration::from_millis(300),
        withdraw_after: Duration::from_millis(200),
        key: fuzz_key(),
        health: crate::health::HealthConfig::default().with_interval(Duration::from_millis(100)),
        policy: Policy::LeastLoaded,
        placement: crate::steering::switch::Placement::Load,
        seed: crate::io::seed(1),
        queue_limit: 64,
        version_not_supported: crate::steering::limit::RateLimit::new(10, 2),
        error_indications: crate::steering::limit::RateLimit::new(10, 2),
        echo_responses: crate::steering::limit::RateLimit::new(10, 2),
        extension_headers: crate::steering::limit::RateLimit::new(10, 2),
        length_errors: crate::steering::limit::RateLimit::new(10, 2),
        path: crate::steering::path::PathConfig {
            echo_interval: Duration::from_millis(200),
            // Simulated time: below the 60 s of TS 29.281 section 7.2.1 on purpose.
            min_echo_interval: Duration::ZERO,
            t3: Duration::from_millis(50),
            n3: 2,
            max_peers: 4,
            on_failure: crate::steering::path::PathFailureAction::Purge,
            purge_batch: 2,
        },
        teid_ranges,
    }
}

/// Drives a switch processor with operations decoded from `data` (raw fabric datagrams from any
/// sender, well-formed VID requests, syncs and table acks, set-up requests, path management
/// answers with restart values, purge acknowledgements, time advancing: echoes, path failures
/// and purges run) and checks after each: no two slots hold the same VID, the table has
/// distinct VIDs, the table version never goes back, the live sessions stay within
/// `max_sessions`, the queues stay bounded, the peer table stays within `max_peers` and indexes
/// only live sessions. The first byte's top bit (the operation reads its low three) turns
/// `teid_ranges` on: then every TEID range a PFCP Association Setup Response or Update Request
/// advertises names two distinct VIDs (Up in the table after a datagram), and an Update Request
/// names at least one.
/// `start` is the base instant the run starts at (the caller's clock; the harness never reads one).
pub fn steering_switch(start: Instant, data: &[u8]) {
    let teid_ranges = data.first().is_some_and(|op| op & 0x80 != 0);
    let config = switch_config(teid_ranges);
    let layout = config.layout;
    let ranges = teid_ranges.then_some(layout);
    let max_sessions = config.max_sessions;
    let Ok(mut sp) = SwitchProcessor::new(config, start) else {
        return;
    };
    sp.set_recovery_time_stamp(crate::steering::switch::NTP_UNIX_OFFSET + 1_700_000_000);
    let mut now = start;
    let senders = [
        addr(0, 1, 4000),
        addr(1, 11, 4000),
        addr(1, 12, 4000),
        addr(1, 13, 4000),
        addr(9, 9, 4000),
    ];
    // Each sender seals as itself (the line interface, processors 11 to 13, and a node that
    // holds the key but is no member, from an address no member has).
    let mut sealers = [LINE_NODE, NodeId(11), NodeId(12), NodeId(13), NodeId(99)]
        .map(|n| FabricSealer::new(&fuzz_key(), n, 1));
    let mut version = 0;
    // The line interface's incarnation (it restarts on some TableAcks, below).
    let mut line_incarnation = 1;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let (&a, tail) = tail.split_first().unwrap_or((&0, &[]));
        let (&b, tail) = tail.split_first().unwrap_or((&0, &[]));
        rest = tail;
        let i = usize::from(a) % senders.len();
        // A TableAck from the line interface under a new incarnation: it restarted, and says
        // which table it holds; the switch processor takes that version, even when lower.
        let restarted_line = op % 8 == 3 && i == 0 && a & 0x40 != 0;
        if restarted_line {
            line_incarnation += 1;
            if let Some(s) = sealers.get_mut(0) {
                *s = FabricSealer::new(&fuzz_key(), LINE_NODE, line_incarnation);
            }
        }
        let from = senders[i];
        let to = addr(0, 100, 4000);
        let timeout = op % 8 == 5;
        let msg: Option<Vec<u8>> = match op % 8 {
            0 => {
                let n = usize::from(b).min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                // As it is (a kind that must be sealed is refused), or sealed by its sender.
                match a & 0x80 {
                    0 => Some(raw.to_vec()),
                    _ => sealers
                        .get_mut(i)
                        .map(|s| sealed(s, NodeId(1), raw.to_vec())),
                }
            }
            1 => Some(
                FabricMessage::VidRequest {
                    processor: NodeId(11 + u32::from(a % 3)),
                    incarnation: u32::from(b % 3),
                    current: VirtualId::new(u16::from(b >> 4)),
                }
                .to_vec(),
            ),
            2 => Some(switch_sync(layout, a, b)),
            // The current table version or one of the three before it (placement waits for
            // the line interface's acknowledgement), or a small one (below every version).
            3 => Some(
                FabricMessage::TableAck {
                    version: if b & 0x80 == 0 {
                        sp.table_version().saturating_sub(u64::from(b & 3))
                    } else {
                        u64::from(b & 0x7f)
                    },
                }
                .to_vec(),
            ),
            4 => switch_gtp_packet(b),
            6 => switch_path_packet(a, b),
            7 => Some(
                FabricMessage::PurgeAck {
                    id: u32::from(b % 8),
                }
                .to_vec(),
            ),
            _ => {
                now += Duration::from_millis(u64::from(b) * 10);
                sp.handle_timeout(now);
                None
            }
        };
        let msg = match (op % 8, msg) {
            (0, m) => m,
            (_, Some(m)) => sealers.get_mut(i).map(|s| sealed(s, NodeId(1), m)),
            (_, None) => None,
        };
        if let Some(m) = msg {
            let r = sp.handle_datagram(now, from, to, &m);
            if let (true, Ok(FabricMessage::TableAck { version: acked })) =
                (restarted_line, FabricMessage::inspect(&m))
            {
                assert!(r.is_ok(), "a restarted line interface's TableAck: {r:?}");
                assert_eq!(
                    sp.acked_version(from),
                    Some(acked.min(sp.table_version())),
                    "the version a restarted line interface holds"
                );
            }
        }
        // After a timeout a table may change after a message went out (several timers run): the
        // ranges' VIDs are checked against the table after one datagram only.
        check_switch(
            &mut sp,
            &mut version,
            max_sessions,
            ranges.map(|l| (l, !timeout)),
        );
    }
}

/// A session sync for a TEID composed from the fuzz bytes.
fn switch_sync(layout: VidLayout, a: u8, b: u8) -> Vec<u8> {
    let teid = layout
        .compose(
            vid(u16::from(a % 5)),
            Some(vid(u16::from(b % 5))),
            u32::from(b),
        )
        .unwrap_or(1);
    FabricMessage::Sync {
        delete: b & 0x80 != 0,
        record: SessionRecord {
            teid,
            version: u32::from(b),
            peer_teid_c: 1,
            peer_teid_u: 1,
            // The peer of the path packets (192.0.2.1) or another.
            peer_c: IpAddr::V4(if a & 0x40 != 0 {
                Ipv4Addr::new(192, 0, 2, 1)
            } else {
                Ipv4Addr::LOCALHOST
            }),
            // Its user plane there too (a GTP-U path), unknown yet, or elsewhere.
            peer_u: IpAddr::V4(match a & 0x30 {
                0x10 => Ipv4Addr::new(192, 0, 2, 1),
                0x20 => Ipv4Addr::UNSPECIFIED,
                _ => Ipv4Addr::LOCALHOST,
            }),
            imsi: Imsi([0xff; 8]),
            nsapi: 5,
            ue_addr: Ipv4Addr::LOCALHOST,
            protocol: match a >> 7 {
                0 => SessionProtocol::Gtpv1,
                _ => SessionProtocol::Pfcp,
            },
            peer_seid: 0,
        },
    }
    .to_vec()
}

/// The queue bound, a table version that never goes back, the session bound, distinct VIDs per
/// slot and in the table, and every owned VID in the table. With `ranges` (the layout of
/// `teid_ranges`, and whether to check the ranges' VIDs), the TEID ranges advertised (see
/// [`check_teid_ranges`]).
fn check_switch(
    sp: &mut SwitchProcessor,
    version: &mut u64,
    max_sessions: usize,
    ranges: Option<(VidLayout, bool)>,
) {
    let mut n = 0;
    while let Some(t) = sp.poll_transmit() {
        n += 1;
        if let Some((layout, vids)) = ranges {
            check_teid_ranges(sp, layout, vids, &t.payload);
        }
    }
    assert!(n <= 64 + 8, "queue bounded");
    while sp.poll_event().is_some() {}
    assert!(sp.table_version() >= *version);
    *version = sp.table_version();
    assert!(sp.session_count() <= max_sessions);
    assert!(sp.peers().len() <= 4, "the peer table is bounded");
    // Each session is indexed under one control-plane peer and at most one GTP-U peer.
    for user_plane in [false, true] {
        let indexed: usize = sp
            .peers()
            .iter()
            .filter(|p| (p.protocol == crate::steering::path::PathProtocol::Gtpu) == user_plane)
            .filter_map(|p| sp.peer_sessions(*p))
            .sum();
        assert!(
            indexed <= sp.session_count(),
            "a peer indexes only live sessions"
        );
    }
    let vids: Vec<_> = [11, 12, 13]
        .iter()
        .filter_map(|&s| sp.vid_of(NodeId(s)))
        .collect();
    let mut dedup = vids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), vids.len(), "two slots hold the same VID");
    let table = sp.table();
    let mut tv: Vec<_> = table.iter().map(|e| e.vid).collect();
    tv.sort();
    tv.dedup();
    assert_eq!(tv.len(), table.len());
    for v in vids {
        assert!(
            table.iter().any(|e| e.vid == v),
            "an owned VID is in the table"
        );
    }
}

/// A PFCP Association Setup Response or Update Request the switch processor sends through a
/// line interface: each User Plane IP Resource Information (TS 29.244 section 8.2.82) names a
/// (VID, backup VID) pair of two distinct VIDs, with `vids` both Up in the table; an Update
/// Request carries at least one (one without any would leave the CP function's ranges as they
/// were).
fn check_teid_ranges(sp: &SwitchProcessor, layout: VidLayout, vids: bool, payload: &[u8]) {
    use crate::steering::fabric::VidState;
    use crate::steering::pfcp::{self, Ie, MessageType};
    let Ok(FabricMessage::Transmit { data, .. }) = FabricMessage::parse(payload) else {
        return;
    };
    let Ok(m) = pfcp::parse(&data) else {
        return;
    };
    let update = m.message_type() == MessageType::ASSOCIATION_UPDATE_REQUEST;
    if !update && m.message_type() != MessageType::ASSOCIATION_SETUP_RESPONSE {
        return;
    }
    let table = sp.table();
    let up = |v: Option<VirtualId>| {
        table
            .iter()
            .any(|e| Some(e.vid) == v && e.state == VidState::Up)
    };
    let mut n = 0;
    for ie in &m.ies {
        let Ie::UpIpResourceInformation(r) = ie else {
            continue;
        };
        n += 1;
        let teid = u32::from(r.teid_range)
            .checked_shl(32 - u32::from(r.teidri))
            .unwrap_or(0);
        let (p, b) = (layout.primary(teid), layout.backup(teid));
        assert!(p.is_some() && p != b, "a range of one VID twice: {r:?}");
        assert!(!vids || (up(p) && up(b)), "a range of a VID not Up: {r:?}");
    }
    assert!(
        !update || n > 0,
        "an Association Update Request without a range"
    );
}

const SWITCH: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(172, 16, 0, 100),
    4000,
));
const LINE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(172, 16, 0, 1),
    4000,
));
const PROCESSOR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(172, 16, 1, 11),
    4000,
));
const PEER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(192, 0, 2, 1),
    2123,
));
const GW: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(10, 0, 0, 1),
    2123,
));

fn processor_config() -> crate::steering::processor::ProcessorConfig {
    crate::steering::processor::ProcessorConfig {
        id: NodeId(11),
        incarnation: 1,
        fabric_addr: PROCESSOR,
        switch_addr: SWITCH,
        switch_node: NodeId(1),
        line_addr: LINE,
        layout: VidLayout::default(),
        l2tp_layout: VidLayout::id16(4, 4).ok(),
        max_sessions: 8,
        max_shadow: 8,
        ue_pool: ipnetwork::Ipv4Network::new(Ipv4Addr::new(10, 0, 0, 0), 8)
            .unwrap_or_else(|_| ipnetwork::Ipv4Network::from(Ipv4Addr::new(10, 0, 0, 0))),
        ue_pool_v6: "2001:db8::/32".parse().ok(),
        apns: Vec::new(),
        recovery: 1,
        retransmit: Duration::from_millis(50),
        max_retries: 3,
        key: fuzz_key(),
        health: crate::health::HealthConfig::default().with_interval(Duration::from_millis(100)),
        queue_limit: 64,
        error_indications: crate::steering::limit::RateLimit::new(10, 4),
        non_existent: crate::steering::limit::RateLimit::new(10, 4),
        extension_headers: crate::steering::limit::RateLimit::new(10, 4),
        length_errors: crate::steering::limit::RateLimit::new(10, 4),
    }
}

/// Drives a [`crate::steering::Processor`] (slot 11, small bounds) with operations decoded from
/// `data`: raw datagrams from the switch processor or a line interface, VID assignments, set-ups
/// directed by the switch processor and packets passed on by a line interface (GTP bytes from
/// the fuzz data), sessions replicated here (and their deletions) for a few subscribers, so
/// repeated set-ups supersede each other's copies, purges from the switch processor naming some
/// of its sessions, and time advancing. Checks after each: the session and shadow tables stay
/// within their bounds, a purged session is gone, the output queue stays bounded. `start`
/// is the base instant the run starts at (the caller's clock; the harness never reads one).
pub fn steering_processor(start: Instant, data: &[u8]) {
    use crate::steering::processor::Processor;
    let Ok(mut p) = Processor::new(processor_config(), start) else {
        return;
    };
    // The switch processor seals what it sends (fabric version 5).
    let mut switch = FabricSealer::new(&fuzz_key(), NodeId(1), 1);
    let mut now = start;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let (&b, tail) = tail.split_first().unwrap_or((&0, &[]));
        rest = tail;
        let mut take = |n: u8| {
            let n = usize::from(n).min(rest.len());
            let (raw, tail) = rest.split_at(n);
            rest = tail;
            raw
        };
        let mut purged = Vec::new();
        let (from, msg): (SocketAddr, Option<Vec<u8>>) = match op % 8 {
            0 => (SWITCH, Some(take(b).to_vec())),
            1 => (LINE, Some(take(b).to_vec())),
            2 => {
                let assign = FabricMessage::VidAssign {
                    processor: NodeId(11),
                    incarnation: 1,
                    vid: vid(u16::from(b % 8)),
                };
                (SWITCH, Some(assign.to_vec()))
            }
            3 => {
                let backup = (b & 0x80 != 0).then(|| vid(u16::from(b % 8)));
                let (from, to, data) = match op / 7 % 4 {
                    3 => well_formed(&p, true, b),
                    k => (PEER, gw_port(k), take(b & 0x7f).to_vec()),
                };
                let data = Cow::Owned(data);
                let directed = FabricMessage::Directed {
                    backup,
                    from,
                    to,
                    data,
                };
                (SWITCH, Some(directed.to_vec()))
            }
            4 => {
                let (from, to, data) = match op / 7 % 4 {
                    3 => well_formed(&p, false, b),
                    k => (PEER, gw_port(k), take(b).to_vec()),
                };
                let data = Cow::Owned(data);
                let packet = FabricMessage::Packet { from, to, data };
                (LINE, Some(packet.to_vec()))
            }
            5 => {
                now += Duration::from_millis(u64::from(b) * 10);
                p.handle_timeout(now);
                (SWITCH, None)
            }
            6 => {
                let local = take(2).iter().fold(0u32, |a, x| a << 8 | u32::from(*x));
                (SWITCH, Some(replicated(p.vid().unwrap_or(ONE), b, local)))
            }
            _ => {
                // A purge naming some of its own sessions and one replicated TEID.
                let mut teids: Vec<u32> = p.session_teids().collect();
                teids.sort_unstable();
                teids.truncate(usize::from(b % 4));
                teids.extend(
                    VidLayout::default()
                        .compose(vid(2), p.vid(), u32::from(b))
                        .ok(),
                );
                purged.clone_from(&teids);
                let purge = FabricMessage::Purge {
                    id: u32::from(b),
                    teids,
                };
                (SWITCH, Some(purge.to_vec()))
            }
        };
        // From the switch processor sealed, but the raw bytes of operation 0 when bit 6 of
        // the operation is clear (a kind that must be sealed is then refused).
        let msg = match msg {
            Some(m) if from == SWITCH && (op % 8 != 0 || op & 0x40 != 0) => {
                Some(sealed(&mut switch, NodeId(11), m))
            }
            m => m,
        };
        if let Some(m) = msg {
            let _ = p.handle_datagram(now, from, PROCESSOR, &m);
        }
        for t in &purged {
            assert!(!p.has_session(*t), "a purged session is gone");
        }
        let mut n = 0;
        while p.poll_transmit().is_some() {
            n += 1;
        }
        assert!(n <= 64 + 8, "queue bounded");
        while p.poll_event().is_some() {}
        assert!(p.session_count() <= 8, "session bound");
        assert!(p.shadow_count() <= 8, "shadow bound");
    }
}

/// A session replicated here by the switch processor (or its deletion), for one of three
/// subscribers (or one without an IMSI), naming this processor (`backup`) as the backup:
/// repeated set-ups of a subscriber supersede each other's copies.
fn replicated(backup: VirtualId, b: u8, local: u32) -> Vec<u8> {
    let primary = vid(1 + u16::from(b >> 5));
    let teid = VidLayout::default()
        .compose(primary, Some(backup), local)
        .unwrap_or(0);
    let imsi = match b % 4 {
        3 => Imsi([0xff; 8]),
        n => Imsi([n; 8]),
    };
    let record = SessionRecord {
        teid,
        version: 1 + u32::from(b >> 6),
        peer_teid_c: 1,
        peer_teid_u: 2,
        peer_c: PEER.ip(),
        peer_u: PEER.ip(),
        imsi,
        nsapi: 5,
        ue_addr: Ipv4Addr::new(10, 0, 0, b),
        protocol: SessionProtocol::Gtpv1,
        peer_seid: 0,
    };
    let delete = b & 0x10 != 0;
    FabricMessage::Sync { delete, record }.to_vec()
}

/// The bytes `pfcp::Message::emit` produces for a datagram that parsed: the same, except the
/// header's spare bits (TS 29.244 section 7.2.2: sent as zero, ignored on receipt) set to zero.
fn canonical_pfcp(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let Some(&flags) = data.first() else {
        return out;
    };
    if let Some(b) = out.get_mut(0) {
        *b &= !0x18;
    }
    let last = 7 + if flags & 0x01 != 0 { 8 } else { 0 };
    if let Some(b) = out.get_mut(last) {
        *b &= if flags & 0x02 != 0 { 0xf0 } else { 0 };
    }
    out
}

/// The body of the `pfcp_message` fuzz target: parsing never panics, and a datagram that parses
/// emits back to itself (spare bits zeroed) and parses back equal.
pub fn pfcp_message(data: &[u8]) {
    // A bundle (flag FO, TS 29.244 section 7.2.2.1): its messages are the datagram, and each
    // but the last is a whole version 1 message with FO = 1 (its Length covers it exactly).
    let parts: Vec<&[u8]> = crate::steering::pfcp::bundle(data).collect();
    assert_eq!(parts.concat(), data);
    for (i, part) in parts.iter().enumerate() {
        assert!(!part.is_empty());
        if i + 1 < parts.len() {
            let len = match **part {
                [_, _, a, b, ..] => Some(usize::from(u16::from_be_bytes([a, b]))),
                _ => None,
            };
            assert_eq!(len.map(|l| l + 4), Some(part.len()));
            assert_eq!(part.first().map(|f| f & 0xe4), Some(0x24));
        }
        if parts.len() > 1 {
            pfcp_one(part);
        }
    }
    pfcp_one(data);
}

/// [`pfcp_message`] for one datagram.
fn pfcp_one(data: &[u8]) {
    let Ok(msg) = crate::steering::pfcp::parse(data) else {
        return;
    };
    let out = msg.to_vec();
    assert!(out.is_ok(), "a parsed message must be emittable");
    let out = out.unwrap_or_default();
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(out, canonical_pfcp(data), "emit(parse(b)) must be b");
    let again = crate::steering::pfcp::parse(&out);
    assert_eq!(again.as_ref(), Ok(&msg), "parse(emit(m)) must be m");
    assert_eq!(msg.clone().into_owned(), msg);
}

#[cfg(test)]
mod tests {
    use crate::Rng;
    use std::time::Instant;

    #[test]
    fn processor_harness_on_random_operations() {
        let t0 = Instant::now();
        let mut rng = Rng::seed_from_u64(0x5052_4f43);
        for _ in 0..300 {
            let mut d = vec![0u8; rng.below(400) as usize];
            rng.fill_bytes(&mut d);
            super::steering_processor(t0, &d);
        }
    }
}
