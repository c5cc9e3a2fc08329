//! tshark on the steering gateway's traffic (`common::steering`): every GTP message of a run, and
//! the error answers, dissect as meant with no malformed packet. Skips when tshark is absent.

mod common;

use common::steering::*;
use std::collections::HashMap;
use std::time::Duration;
use telcp::steering::gtp::{Ie, Message, MessageType};

// ---------------------------------------------------------------- tshark on the gateway's traffic

#[test]
fn tshark_reads_the_gateway_traffic() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = Gateway::new(11, 0.0, 1);
    gw.create_sessions(4);
    for i in 0..4 {
        let now = gw.sim.now();
        gw.sgsn().update(now, i);
        gw.sgsn().g_pdu(i);
    }
    gw.sim.run_for(Duration::from_millis(300));
    for i in 0..4 {
        let now = gw.sim.now();
        gw.sgsn().delete(now, i);
    }
    gw.sim.run_for(Duration::from_millis(300));
    let cap = Capture::new(&gw, "tshark", "gateway.pcap");
    // Only the peer-facing side: the fabric (port 4000) is not GTP.
    cap.assert_clean("gtp && !(udp.port == 4000)");
    let out = cap.fields(
        "gtp && !(udp.port == 4000) && ip.src == 10.0.0.1",
        &["gtp.message", "gtp.cause", "gtp.teid_data", "gtp.user_ipv4"],
    );
    let layout = layout();
    let mut seen = HashMap::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split('|').collect();
        *seen.entry(cols[0].to_owned()).or_insert(0) += 1;
        assert_eq!(cols[1], "128", "accepted: {line}");
        if cols[0] == "0x11" || cols[0] == "0x13" {
            // Create / Update responses: the TEID tshark reads carries a primary and a backup VID.
            let teid = u32::from_str_radix(cols[2].trim_start_matches("0x"), 16).unwrap();
            let p = layout.primary(teid).unwrap();
            assert!(gw.proc_by_vid(p).is_some());
            assert!(layout.backup(teid).is_some_and(|b| b != p));
        }
        if cols[0] == "0x11" {
            assert!(cols[3].starts_with("10."), "End User Address {line}");
        }
    }
    for t in ["0x11", "0x13", "0x15"] {
        assert!(
            seen.get(t).is_some_and(|n| *n >= 4),
            "{t} in {seen:?}\n{out}"
        );
    }
}

#[test]
fn tshark_reads_the_error_indications_version_not_supported_and_non_existent() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = Gateway::new(26, 0.0, 1);
    gw.create_sessions(1);
    // A TEID naming no processor, and one naming no session at processor 11.
    let (no_vid, no_session) = gw.unknown_teids();
    gw.sgsn().g_pdu_to(2152, no_vid);
    gw.sgsn().g_pdu_to(40001, no_session);
    // A GTPv0 Echo Request (GTPv2-C is served now, see tests/steering_4g.rs).
    let mut v0 = vec![0x1e, 0x01, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00];
    v0.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    v0.extend_from_slice(&[0; 8]);
    gw.sgsn().send_raw(2123, 2123, v0);
    // Update and Delete PDP Context Requests naming no context: answered Non-existent.
    for (t, seq) in [
        (MessageType::UPDATE_PDP_CONTEXT_REQUEST, 0x0301),
        (MessageType::DELETE_PDP_CONTEXT_REQUEST, 0x0302),
    ] {
        let m = Message::new(t, no_vid, seq, vec![Ie::Nsapi(5)]);
        gw.sgsn().send_raw(2123, 2123, m.to_vec().unwrap());
    }
    gw.sim.run_for(Duration::from_millis(300));
    let cap = Capture::new(&gw, "ei", "errors.pcap");
    cap.assert_clean("(gtp || gtpv2) && !(udp.port == 4000)");
    let out = cap.fields(
        "gtp && ip.src == 10.0.0.1 && (gtp.message == 0x1a || gtp.message == 0x03)",
        &[
            "gtp.message",
            "gtp.teid_data",
            "gtp.gsn_ipv4",
            "gtp.ext_hdr.udp_port",
            "udp.dstport",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    let ei = |teid: u32, port: &str| format!("0x1a|0x{teid:08x}|10.0.0.1|{port}|2152");
    assert!(lines.contains(&ei(no_vid, "").as_str()), "{out}");
    assert!(lines.contains(&ei(no_session, "40001").as_str()), "{out}");
    assert!(lines.contains(&"0x03||||2123"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let out = cap.fields(
        "gtp && ip.src == 10.0.0.1 && gtp.cause == 192",
        &[
            "gtp.message",
            "gtp.teid",
            "gtp.seq_number",
            "gtp.cause",
            "udp.srcport",
            "udp.dstport",
        ],
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "0x13|0x00000000|0x0301|192|2123|2123",
            "0x15|0x00000000|0x0302|192|2123|2123"
        ],
        "{out}"
    );
}
