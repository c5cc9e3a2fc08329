//! Issue 12: GTP conformance faults 11, 12, 13 and 17 of the steering machines, each driven
//! straight through the machines' `handle_datagram` (no simulator), checked against the clause of
//! TS 29.060 / TS 29.281 quoted at each test.

mod common;

use common::hex;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;
use telcp::health::{ClusterKey, NodeId};
use telcp::steering::fabric::FabricMessage;
use telcp::steering::gtp::{
    self, Body, Cause, CreatePdpContextRequest, EndUserAddress, Ie, IeType, Imsi, Message,
    MessageType,
};
use telcp::steering::line::LineConfig;
use telcp::steering::processor::{ProcessorConfig, ProcessorEvent};
use telcp::steering::switch::SwitchConfig;
use telcp::steering::{
    ConfigError, ConfigField, InputError, LineInterface, Processor, SwitchProcessor, VidLayout,
    VirtualId,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
const SGSN_C: &str = "192.0.2.10:2123";
const SGSN_U: &str = "192.0.2.10:2152";
const GW_C: &str = "10.0.0.1:2123";
const GW_U: &str = "10.0.0.1:2152";
const LINE: &str = "172.16.0.1:4000";
const SWITCH: &str = "172.16.0.100:4000";
const PROC: &str = "172.16.1.11:4000";

fn layout() -> VidLayout {
    VidLayout::default()
}

/// `m` carrying one extension header of type `ext_type` (TS 29.281 section 5.2: its content
/// `content`, in 4-octet units with the next-type octet).
fn with_extension(m: &mut Message<'_>, ext_type: u8, content: &'static [u8]) {
    m.header.extensions = Some(vec![gtp::ExtensionHeader {
        ext_type,
        content: Cow::Borrowed(content),
    }]);
}

/// The switch processor under test (the one place a seed is set in this file).
fn switch_cfg(seed: u64) -> SwitchConfig {
    let mut c = SwitchConfig::new(
        NodeId(1),
        sa(SWITCH),
        vec![sa(LINE)],
        vec![(NodeId(11), sa(PROC))],
        layout(),
        ClusterKey::new(b"conformance cluster key"),
    );
    c.recovery = 7;
    c.seed = telcp::io::seed(seed);
    c
}

/// `m` as the switch processor sends it to processor 11 (fabric version 5).
fn from_switch(m: &FabricMessage<'_>) -> Vec<u8> {
    common::steering::from_switch(b"conformance cluster key", 11, m)
}

fn proc_cfg() -> ProcessorConfig {
    let mut c = ProcessorConfig::new(
        NodeId(11),
        sa(PROC),
        sa(SWITCH),
        sa(LINE),
        layout(),
        "10.0.0.0/8".parse().unwrap(),
        ClusterKey::new(b"conformance cluster key"),
    );
    c.recovery = 3;
    c
}

/// The line interface under test (node 2).
fn line_cfg() -> LineConfig {
    let key = ClusterKey::new(b"conformance cluster key");
    LineConfig::new(sa(LINE), sa(SWITCH), layout(), NodeId(2), key)
}

/// A line interface holding a table (version 1) in which no processor holds a VID: one holding
/// no table yet answers nothing for an unknown VID (it cannot know it is unknown, see
/// `telcp::steering::line`).
fn line_with_table(t0: Instant) -> LineInterface {
    let mut li = LineInterface::new(line_cfg(), t0).unwrap();
    assert!(li.apply_update(1, &[]));
    while li.poll_event().is_some() {}
    li
}

/// The GTP datagrams a machine's output holds (the payloads of fabric Transmits), as
/// (from, to, message).
fn gtp_out(
    mut poll: impl FnMut() -> Option<telcp::Transmit>,
) -> Vec<(SocketAddr, SocketAddr, Message<'static>)> {
    let mut out = Vec::new();
    while let Some(t) = poll() {
        if let Ok(FabricMessage::Transmit { from, to, data }) = FabricMessage::parse(&t.payload) {
            if let Ok(m) = gtp::parse(&data) {
                out.push((from, to, m.into_owned()));
            }
        }
    }
    out
}

/// Raw datagrams a line interface sends outside: (src, dst, bytes).
fn line_out(li: &mut LineInterface) -> Vec<(Option<SocketAddr>, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = li.poll_transmit() {
        out.push((t.src, t.dst, t.payload.to_vec()));
    }
    out
}

fn packet(from: &str, to: &str, data: &[u8]) -> Vec<u8> {
    FabricMessage::Packet {
        from: sa(from),
        to: sa(to),
        data: Cow::Borrowed(data),
    }
    .to_vec()
}

// ------------------------------------------------------------------------------ fault 11

/// Issue 12 fault 11: TS 29.281 section 7.2.2 (Echo Response on GTP-U): "The Restart Counter
/// value in the Recovery information element shall not be used, i.e. it shall be set to zero by
/// the sender and shall be ignored by the receiver"; TS 29.060 section 7.7.12 keeps the restart
/// counter for GTP-C. The exact bytes are the issue's.
#[test]
fn fault_11_echo_response_on_gtp_u_carries_restart_counter_zero() {
    let t0 = Instant::now();
    let mut sp = SwitchProcessor::new(switch_cfg(1), t0).unwrap();
    let req = hex("320100040000000012340000");
    sp.handle_datagram(t0, sa(LINE), sa(SWITCH), &packet(SGSN_U, GW_U, &req))
        .unwrap();
    let out = gtp_out(|| sp.poll_transmit());
    let (from, to, m) = out
        .iter()
        .find(|(_, _, m)| m.message_type() == MessageType::ECHO_RESPONSE)
        .expect("an Echo Response");
    assert_eq!((*from, *to), (sa(GW_U), sa(SGSN_U)));
    assert_eq!(
        m.to_vec().unwrap(),
        hex("3202000600000000123400000e00"),
        "GTP-U: Recovery 0"
    );

    // The same request on GTP-C carries the restart counter (7).
    sp.handle_datagram(t0, sa(LINE), sa(SWITCH), &packet(SGSN_C, GW_C, &req))
        .unwrap();
    let out = gtp_out(|| sp.poll_transmit());
    let (_, to, m) = out
        .iter()
        .find(|(_, _, m)| m.message_type() == MessageType::ECHO_RESPONSE)
        .expect("an Echo Response");
    assert_eq!(*to, sa(SGSN_C));
    assert_eq!(m.to_vec().unwrap(), hex("3202000600000000123400000e07"));
}

// ------------------------------------------------------------------------------ fault 12

/// A processor holding VID 4, ready to take directed set-ups.
fn processor(config: ProcessorConfig, t0: Instant) -> Processor {
    let mut p = Processor::new(config, t0).unwrap();
    let assign = FabricMessage::VidAssign {
        processor: NodeId(11),
        incarnation: 1,
        vid: VirtualId::new(4).unwrap(),
    };
    p.handle_datagram(t0, sa(SWITCH), sa(PROC), &from_switch(&assign))
        .unwrap();
    while p.poll_transmit().is_some() {}
    while p.poll_event().is_some() {}
    p
}

fn create_request(seq: u16, eua: EndUserAddress<'static>, extra: Vec<Ie<'static>>) -> Vec<u8> {
    let sgsn = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let imsi = Imsi::from_digits(&format!("0010100000{seq:05}"));
    // The elements TS 29.060 section 7.3.1 makes mandatory (QoS Profile among them), and the
    // primary context's IMSI, Selection Mode, TEID Control Plane, APN.
    let mut req = CreatePdpContextRequest::new(imsi, 0x5500_0000 + u32::from(seq), 5, sgsn);
    req.end_user_address = Some(eua);
    req.qos_profile = vec![0, 0x0b, 0x92, 0x1f];
    let mut m = req.message(seq);
    if let Body::Ies(ies) = &mut m.body {
        ies.extend(extra);
    }
    m.to_vec().unwrap()
}

/// Common Flags (TS 29.060 section 7.7.48) with the Dual Address Bearer Flag (bit 8) set.
fn daf() -> Ie<'static> {
    Ie::Tlv {
        ie_type: IeType::COMMON_FLAGS,
        value: Cow::Borrowed(&[0x80]),
    }
}

/// Directs a Create PDP Context Request to `p`, acknowledges its replication, and returns the
/// Create PDP Context Response it sent.
fn set_up(p: &mut Processor, t0: Instant, req: &[u8]) -> Message<'static> {
    let directed = FabricMessage::Directed {
        backup: None,
        from: sa(SGSN_C),
        to: sa(GW_C),
        data: Cow::Borrowed(req),
    };
    p.handle_datagram(t0, sa(SWITCH), sa(PROC), &from_switch(&directed))
        .unwrap();
    let mut out = Vec::new();
    while let Some(t) = p.poll_transmit() {
        if let Ok(FabricMessage::Sync { record, .. }) = FabricMessage::inspect(&t.payload) {
            let ack = FabricMessage::SyncAck {
                teid: record.teid,
                version: record.version,
            };
            p.handle_datagram(t0, sa(SWITCH), sa(PROC), &from_switch(&ack))
                .unwrap();
        } else {
            out.push(t);
        }
    }
    let mut it = out.into_iter();
    let resp = gtp_out(|| it.next());
    let (_, to, m) = resp
        .into_iter()
        .find(|(_, _, m)| m.message_type() == MessageType::CREATE_PDP_CONTEXT_RESPONSE)
        .expect("a Create PDP Context Response");
    assert_eq!(to, sa(SGSN_C));
    m
}

fn ietf(pdp_type: u8) -> EndUserAddress<'static> {
    EndUserAddress {
        organization: EndUserAddress::IETF,
        pdp_type,
        address: Cow::Borrowed(&[]),
    }
}

/// Issue 12 fault 12: TS 29.060 section 7.3.2: "If the MS requests a dual-stack PDP type
/// (IPv4v6) and the GGSN operator preference dictates the use of IPv4 addressing only ... for
/// this APN, the PDP type shall be changed to a single address PDP type (IPv4 ...) and the
/// Cause value shall be set to 'New PDP type due to network preference'" (129, an acceptance,
/// section 7.7.1), with the IPv4 address in the End User Address (section 7.7.27). The request's
/// End User Address is the issue's `80 0002 f18d`.
#[test]
fn fault_12_ipv4v6_request_to_an_ipv4_only_gateway_gets_ipv4_with_cause_129() {
    let t0 = Instant::now();
    let mut p = processor(proc_cfg(), t0);
    let req = create_request(1, ietf(EndUserAddress::IPV4V6), vec![daf()]);
    assert!(
        req.windows(5).any(|w| w == hex("800002f18d")),
        "the issue's End User Address"
    );
    let m = set_up(&mut p, t0, &req);
    assert_eq!(m.cause(), Some(Cause::NEW_PDP_TYPE_NETWORK_PREFERENCE));
    assert!(m.cause().unwrap().is_accepted());
    let eua = m.end_user_address().expect("an End User Address");
    assert_eq!(eua.pdp_type, EndUserAddress::IPV4);
    let v4 = eua.ipv4_addr().expect("an IPv4 address");
    assert!(
        "10.0.0.0/8"
            .parse::<ipnetwork::Ipv4Network>()
            .unwrap()
            .contains(v4)
    );
    assert_eq!(eua.ipv6_addr(), None);
    assert!(m.teid_data_i().is_some_and(|t| t != 0));
    assert_eq!(p.session_count(), 1);
}

/// Issue 12 fault 12: with an IPv6 prefix pool the gateway serves both (TS 23.060 section 9.2.1,
/// dual-stack PDP type IPv4v6): cause Request accepted, End User Address of PDP type IPv4v6
/// carrying the IPv4 address then the IPv6 address (TS 29.060 section 7.7.27), a /64 of the
/// pool per session. Without the Dual Address Bearer Flag (TS 29.060 section 7.7.48: the SGSN
/// supports dual-stack bearers) it is IPv4 only with cause 130 (section 7.3.2).
#[test]
fn fault_12_gateway_with_an_ipv6_pool_serves_ipv4v6() {
    let t0 = Instant::now();
    let mut c = proc_cfg();
    c.ue_pool_v6 = Some("2001:db8::/32".parse().unwrap());
    let mut p = processor(c, t0);
    let pool: ipnetwork::Ipv6Network = "2001:db8::/32".parse().unwrap();
    let mut prefixes = std::collections::HashSet::new();
    for seq in 1..=3u16 {
        let m = set_up(
            &mut p,
            t0,
            &create_request(seq, ietf(EndUserAddress::IPV4V6), vec![daf()]),
        );
        assert_eq!(m.cause(), Some(Cause::REQUEST_ACCEPTED));
        let eua = m.end_user_address().unwrap();
        assert_eq!(eua.pdp_type, EndUserAddress::IPV4V6);
        assert_eq!(eua.address.len(), 20, "IPv4 (4) then IPv6 (16)");
        assert!(eua.ipv4_addr().is_some());
        let v6 = eua.ipv6_addr().unwrap();
        assert!(pool.contains(v6));
        assert!(prefixes.insert(u128::from(v6) >> 64), "one /64 per session");
    }
    let events: Vec<ProcessorEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(
        e,
        ProcessorEvent::SessionCreated {
            ue_addr_v6: Some(_),
            ..
        }
    )));
    // No Dual Address Bearer Flag: a single address bearer.
    let m = set_up(
        &mut p,
        t0,
        &create_request(4, ietf(EndUserAddress::IPV4V6), vec![]),
    );
    assert_eq!(m.cause(), Some(Cause::NEW_PDP_TYPE_SINGLE_ADDRESS_BEARER));
    assert_eq!(m.end_user_address().unwrap().pdp_type, EndUserAddress::IPV4);
    // IPv6 alone is served too.
    let m = set_up(
        &mut p,
        t0,
        &create_request(5, ietf(EndUserAddress::IPV6), vec![]),
    );
    assert_eq!(m.cause(), Some(Cause::REQUEST_ACCEPTED));
    let eua = m.end_user_address().unwrap();
    assert_eq!(
        (eua.pdp_type, eua.address.len()),
        (EndUserAddress::IPV6, 16)
    );
    assert!(pool.contains(eua.ipv6_addr().unwrap()));
}

/// Issue 12 fault 12: an IPv6-only set-up to an IPv4-only gateway. TS 29.060 section 7.3.2:
/// "'Unknown PDP address or PDP type' ... indicates that the GGSN does not support the PDP type
/// or the PDP address"; the rejecting response carries the Cause and is sent to the SGSN's
/// control TEID (section 7.3.2: only Cause is mandatory in a rejection).
#[test]
fn fault_12_ipv6_request_to_an_ipv4_only_gateway_is_refused_with_cause_220() {
    let t0 = Instant::now();
    let mut p = processor(proc_cfg(), t0);
    let m = set_up(
        &mut p,
        t0,
        &create_request(9, ietf(EndUserAddress::IPV6), vec![]),
    );
    assert_eq!(m.cause(), Some(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE));
    assert_eq!(m.header.teid, 0x5500_0009);
    assert_eq!(m.end_user_address(), None);
    assert_eq!(p.session_count(), 0);
    assert_eq!(p.stats().refused, 1);
}

/// Issue 12 fault 12: the IPv6 pool must hold one /64 per (VID, local index), like the IPv4 one.
#[test]
fn fault_12_an_ipv6_pool_too_small_for_the_layout_is_refused() {
    let mut c = proc_cfg();
    // The default layout needs 8 + 8 VID bits and 4 local bits above the /64: a /48 leaves 16.
    c.ue_pool_v6 = Some("2001:db8::/48".parse().unwrap());
    assert!(matches!(
        Processor::new(c.clone(), Instant::now()),
        Err(ConfigError::PoolTooSmall {
            field: ConfigField::UePoolV6,
            prefix: 48,
            longest: 44
        })
    ));
    c.ue_pool_v6 = Some("2001:db8::/40".parse().unwrap());
    assert!(Processor::new(c, Instant::now()).is_ok());
}

// ------------------------------------------------------------------------------ fault 13

/// The G-PDU: extension header type 0xc5 (two high bits `11`: comprehension required),
/// for `teid`.
fn g_pdu_with_unknown_extension(teid: u32) -> Vec<u8> {
    hex(&format!("34ff000c{teid:08x}000000c501aabb0045000014"))
}

/// Issue 12 fault 13: TS 29.281 section 5.2.1: bits 8 and 7 of the extension header type `10`
/// or `11` mean "comprehension of this extension header is required by the Endpoint Receiver";
/// a receiver that does not support it shall discard the packet and send a Supported Extension
/// Headers Notification (TS 29.060 section 7.2.4: the Extension Header Type List of the types
/// it supports). A G-PDU for a live session with such a header is not user data.
#[test]
fn fault_13_g_pdu_with_unknown_comprehension_required_extension_is_not_delivered() {
    let t0 = Instant::now();
    let mut p = processor(proc_cfg(), t0);
    let m = set_up(
        &mut p,
        t0,
        &create_request(1, EndUserAddress::ipv4(None), vec![]),
    );
    let teid = m.teid_data_i().unwrap();
    let before = p.stats().user_packets;
    let r = p.handle_datagram(
        t0,
        sa(LINE),
        sa(PROC),
        &packet(SGSN_U, GW_U, &g_pdu_with_unknown_extension(teid)),
    );
    assert_eq!(r, Err(InputError::UnsupportedExtension(0xc5)));
    assert_eq!(p.stats().user_packets, before, "not delivered as user data");
    let out = gtp_out(|| p.poll_transmit());
    let (from, to, n) = out
        .first()
        .expect("a Supported Extension Headers Notification");
    assert_eq!((*from, *to), (sa(GW_U), sa(SGSN_U)));
    assert_eq!(
        n.message_type(),
        MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION
    );
    assert_eq!(n.header.teid, 0);
    assert_eq!(
        n.ie(IeType::EXTENSION_HEADER_TYPE_LIST),
        Some(&Ie::ExtensionHeaderTypeList(Cow::Borrowed(&[0x40][..]))),
        "GTP-U: the UDP Port extension header is the one supported"
    );
    assert_eq!(p.stats().extension_headers_notifications, 1);
    // The same G-PDU without the extension header is user data.
    let plain = Message::g_pdu(teid, &hex("45000014")[..]).to_vec().unwrap();
    p.handle_datagram(t0, sa(LINE), sa(PROC), &packet(SGSN_U, GW_U, &plain))
        .unwrap();
    assert_eq!(p.stats().user_packets, before + 1);
    // A header the receiver may ignore (type 0x05, high bits `00`) does not stop delivery.
    let ignorable = hex(&format!("34ff000c{teid:08x}0000000501aabb0045000014"));
    p.handle_datagram(t0, sa(LINE), sa(PROC), &packet(SGSN_U, GW_U, &ignorable))
        .unwrap();
    assert_eq!(p.stats().user_packets, before + 2);
}

/// Issue 12 fault 13, GTP-C at the processor: an Update PDP Context Request for a live session
/// carrying an unknown comprehension-required extension header (TS 29.060 section 6.1) is not
/// served; the sender gets a Supported Extension Headers Notification listing none on GTP-C.
#[test]
fn fault_13_update_with_unknown_comprehension_required_extension_is_not_served() {
    let t0 = Instant::now();
    let mut p = processor(proc_cfg(), t0);
    let m = set_up(
        &mut p,
        t0,
        &create_request(1, EndUserAddress::ipv4(None), vec![]),
    );
    let teid = m.teid_control().unwrap();
    let mut upd = Message::new(
        MessageType::UPDATE_PDP_CONTEXT_REQUEST,
        teid,
        77,
        vec![Ie::Nsapi(5)],
    );
    with_extension(&mut upd, 0x83, &[0, 0]);
    let r = p.handle_datagram(
        t0,
        sa(LINE),
        sa(PROC),
        &packet(SGSN_C, GW_C, &upd.to_vec().unwrap()),
    );
    assert_eq!(r, Err(InputError::UnsupportedExtension(0x83)));
    assert_eq!(p.stats().served_primary, 0);
    let out = gtp_out(|| p.poll_transmit());
    assert_eq!(out.len(), 1, "{out:?}");
    let (_, to, n) = &out[0];
    assert_eq!(*to, sa(SGSN_C));
    assert_eq!(
        n.message_type(),
        MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION
    );
    assert_eq!(n.header.sequence, Some(77));
    assert_eq!(
        n.ie(IeType::EXTENSION_HEADER_TYPE_LIST),
        Some(&Ie::ExtensionHeaderTypeList(Cow::Borrowed(&[][..])))
    );
}

/// Issue 12 fault 13, at the switch processor (TEID-0 messages): a Create PDP Context Request
/// or an Echo Request with an unknown comprehension-required extension header is neither
/// directed nor answered (TS 29.060 section 6.1), only notified (section 7.2.4).
#[test]
fn fault_13_switch_does_not_direct_or_answer_messages_with_unknown_required_extension() {
    let t0 = Instant::now();
    let mut sp = SwitchProcessor::new(switch_cfg(2), t0).unwrap();
    for (from, to, msg_type) in [
        (SGSN_C, GW_C, MessageType::ECHO_REQUEST),
        (SGSN_U, GW_U, MessageType::ECHO_REQUEST),
        (SGSN_C, GW_C, MessageType::CREATE_PDP_CONTEXT_REQUEST),
    ] {
        let mut m = Message::new(msg_type, 0, 9, vec![]);
        with_extension(&mut m, 0xc5, &[0xaa, 0xbb]);
        let r = sp.handle_datagram(
            t0,
            sa(LINE),
            sa(SWITCH),
            &packet(from, to, &m.to_vec().unwrap()),
        );
        assert_eq!(r, Err(InputError::UnsupportedExtension(0xc5)));
        let out = gtp_out(|| sp.poll_transmit());
        assert_eq!(out.len(), 1, "{msg_type}: {out:?}");
        assert_eq!(
            out[0].2.message_type(),
            MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION
        );
        assert_eq!(out[0].1, sa(from));
    }
    assert_eq!(sp.stats().echoes, 0);
    assert_eq!(sp.stats().setups_directed, 0);
    assert_eq!(sp.stats().extension_headers_notifications, 3);
}

/// Issue 12 fault 13, at the line interface: an Update PDP Context Request naming no known VID
/// with an unknown comprehension-required extension header gets the Supported Extension Headers
/// Notification (TS 29.060 section 6.1), not a Non-existent response.
#[test]
fn fault_13_line_notifies_instead_of_answering_non_existent() {
    let t0 = Instant::now();
    let mut li = line_with_table(t0);
    let teid = layout()
        .compose(VirtualId::new(9).unwrap(), None, 1)
        .unwrap();
    let mut upd = Message::new(MessageType::UPDATE_PDP_CONTEXT_REQUEST, teid, 5, vec![]);
    with_extension(&mut upd, 0xc5, &[0, 0]);
    let _ = li.handle_datagram(t0, sa(SGSN_C), sa(GW_C), &upd.to_vec().unwrap());
    let out = line_out(&mut li);
    assert_eq!(out.len(), 1);
    let n = gtp::parse(&out[0].2).unwrap();
    assert_eq!(
        n.message_type(),
        MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION
    );
    assert_eq!((out[0].0, out[0].1), (Some(sa(GW_C)), sa(SGSN_C)));
    assert_eq!(li.stats().non_existent, 0);
    assert_eq!(li.stats().extension_headers_notifications, 1);
}

// ------------------------------------------------------------------------------ fault 17

/// Issue 12 fault 17: Echo Requests are unauthenticated (TS 29.060 section 7.2.1 asks only
/// that a node answer them); a flood of them must not turn into as many Echo Responses. At
/// most the token bucket's burst at one instant, the rest counted.
#[test]
fn fault_17_echo_flood_is_answered_at_most_at_the_configured_rate() {
    let t0 = Instant::now();
    let mut sp = SwitchProcessor::new(switch_cfg(3), t0).unwrap();
    let req = hex("320100040000000012340000");
    let mut answered = 0;
    for _ in 0..1000 {
        let _ = sp.handle_datagram(t0, sa(LINE), sa(SWITCH), &packet(SGSN_U, GW_U, &req));
        answered += gtp_out(|| sp.poll_transmit())
            .iter()
            .filter(|(_, _, m)| m.message_type() == MessageType::ECHO_RESPONSE)
            .count();
    }
    // RateLimit::default(): bursts of 20.
    assert_eq!(answered, 20);
    assert_eq!(sp.stats().echoes, 20);
    assert_eq!(sp.stats().echoes_suppressed, 980);
    // One second later, 100 more (100 per second).
    let t1 = t0 + std::time::Duration::from_secs(1);
    for _ in 0..1000 {
        let _ = sp.handle_datagram(t1, sa(LINE), sa(SWITCH), &packet(SGSN_C, GW_C, &req));
    }
    assert_eq!(sp.stats().echoes, 40, "the bucket holds at most its burst");
    assert_eq!(sp.stats().echoes + sp.stats().echoes_suppressed, 2000);
}

/// Issue 12 fault 17: Supported Extension Headers Notifications answer unauthenticated input
/// too; a flood of G-PDUs with an unknown comprehension-required extension header for a live
/// session (TS 29.281 section 5.2.1) gets at most the burst at one instant, the rest counted, and
/// none of them is delivered.
#[test]
fn fault_17_extension_header_notification_flood_is_bounded() {
    let t0 = Instant::now();
    let mut p = processor(proc_cfg(), t0);
    let m = set_up(
        &mut p,
        t0,
        &create_request(1, EndUserAddress::ipv4(None), vec![]),
    );
    let g = packet(
        SGSN_U,
        GW_U,
        &g_pdu_with_unknown_extension(m.teid_data_i().unwrap()),
    );
    let mut sent = 0;
    for _ in 0..2000 {
        let _ = p.handle_datagram(t0, sa(LINE), sa(PROC), &g);
        sent += gtp_out(|| p.poll_transmit()).len();
    }
    assert_eq!(sent, 20);
    let s = p.stats();
    assert_eq!(s.extension_headers_notifications, 20);
    assert_eq!(s.extension_headers_suppressed, 1980);
    assert_eq!(s.user_packets, 0);

    // The same at the switch processor (TEID-0 messages) and the line interface.
    let mut sp = SwitchProcessor::new(switch_cfg(4), t0).unwrap();
    let mut echo = Message::new(MessageType::ECHO_REQUEST, 0, 1, vec![]);
    with_extension(&mut echo, 0xc5, &[0, 0]);
    let e = packet(SGSN_U, GW_U, &echo.to_vec().unwrap());
    for _ in 0..2000 {
        let _ = sp.handle_datagram(t0, sa(LINE), sa(SWITCH), &e);
    }
    assert_eq!(sp.stats().extension_headers_notifications, 20);
    assert_eq!(sp.stats().extension_headers_suppressed, 1980);

    let mut li = line_with_table(t0);
    let teid = layout()
        .compose(VirtualId::new(9).unwrap(), None, 1)
        .unwrap();
    let mut upd = Message::new(MessageType::DELETE_PDP_CONTEXT_REQUEST, teid, 5, vec![]);
    upd.header.extensions = echo.header.extensions.clone();
    let u = upd.to_vec().unwrap();
    for _ in 0..2000 {
        let _ = li.handle_datagram(t0, sa(SGSN_C), sa(GW_C), &u);
    }
    assert_eq!(line_out(&mut li).len(), 20);
    assert_eq!(li.stats().extension_headers_notifications, 20);
    assert_eq!(li.stats().extension_headers_suppressed, 1980);
}
