//! tshark as a second opinion on every Mobile IPv4 message and extension the codec emits: a pcap
//! on UDP 434, no error-level expert item, and the fields read back as meant.
#![cfg(feature = "pcap")]

mod common;

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::{
    Builder, DYNAMIC_HA_REQUESTED, Extension, ExtensionType, GEN_AUTH_MN_AAA, PORT,
    REVOCATION_I_BIT, Reply, ReplyCode, Request, RequestFlags,
};
use telcp::pcap::PcapWriter;

/// Messages covering every message type, reply class and extension type the codec emits, with the
/// `mip.type`, `mip.code`, `mip.ext.type`, `mip.auth.spi`, `mip.nai` values tshark must read.
fn messages() -> Vec<(Vec<u8>, &'static str)> {
    let mn = SecurityAssociation::new(0x1001, AuthAlgorithm::HmacMd5, b"mn-ha shared key".to_vec());
    let mf = SecurityAssociation::new(0x3003, AuthAlgorithm::HmacMd5, b"mn-fa shared key".to_vec());
    let fa = SecurityAssociation::new(0x2002, AuthAlgorithm::HmacMd5, b"fa-ha key (fuzz)".to_vec());
    let q = Request {
        flags: RequestFlags(RequestFlags::S | RequestFlags::T),
        lifetime: 1800,
        home_address: Ipv4Addr::UNSPECIFIED,
        home_agent: Ipv4Addr::new(192, 0, 2, 1),
        care_of: Ipv4Addr::new(198, 51, 100, 7),
        identification: 0xE7A1_B2C3_0000_0001,
    };
    let rrq = Builder::request(q)
        .nai(b"alice@home.example.net")
        .extension(Extension::RevocationSupport {
            flags: REVOCATION_I_BIT,
            timestamp: 7,
        })
        .extension(Extension::DynamicHa {
            subtype: DYNAMIC_HA_REQUESTED,
            home_agent: Ipv4Addr::new(192, 0, 2, 11),
        })
        .extension(Extension::UdpTunnelRequest {
            subtype: 0,
            reserved1: 0,
            flags: 0x80,
            encapsulation: 4,
            reserved2: 0,
        })
        .extension(Extension::Cvse {
            reserved: 0,
            vendor_id: 9,
            vendor_type: 1,
            value: Cow::Borrowed(b"crit"),
        })
        .extension(Extension::Nvse {
            reserved: 0,
            vendor_id: 9,
            vendor_type: 2,
            value: Cow::Borrowed(b"norm"),
        })
        .mn_ha_auth(&mn)
        .mn_fa_auth(&mf)
        .fa_ha_auth(&fa)
        .to_vec();
    let rrq2 = Builder::request(Request {
        home_address: Ipv4Addr::new(10, 1, 0, 9),
        lifetime: 0,
        ..q
    })
    .extension(Extension::PmipNonSkippable {
        subtype: 1,
        data: Cow::Borrowed(&[1]),
    })
    .extension(Extension::Other {
        ext_type: ExtensionType(200),
        data: Cow::Borrowed(b"skip me"),
    })
    .extension(Extension::GeneralizedAuth {
        subtype: GEN_AUTH_MN_AAA,
        spi: 0x4004,
        authenticator: Cow::Owned(vec![0xab; 16]),
    })
    .mn_ha_auth(&mn)
    .to_vec();
    let p = Reply {
        code: ReplyCode::ACCEPTED,
        lifetime: 1800,
        home_address: Ipv4Addr::new(10, 1, 0, 9),
        home_agent: Ipv4Addr::new(192, 0, 2, 1),
        identification: q.identification,
    };
    let rrp = Builder::reply(p)
        .nai(b"alice@home.example.net")
        .extension(Extension::UdpTunnelReply {
            subtype: 0,
            code: 0,
            flags: 0x8000,
            keepalive: 110,
        })
        .mn_ha_auth(&mn)
        .to_vec();
    let mut out = vec![
        (
            rrq,
            "1;;131,137,139,144,38,134,32,33,34;0x00001001,0x00003003,0x00002002;alice@home.example.net",
        ),
        (rrq2, "1;;47,200,36,32;0x00004004,0x00001001;"),
        (rrp, "3;0;131,44,32;0x00001001;alice@home.example.net"),
    ];
    for (code, expect) in [
        (ReplyCode::ACCEPTED_NO_SIMULTANEOUS, "3;1;32;0x00001001;"),
        (ReplyCode::FA_POORLY_FORMED_REQUEST, "3;70;32;0x00001001;"),
        (ReplyCode::MN_AUTH_FAILED, "3;131;32;0x00001001;"),
        (ReplyCode::IDENTIFICATION_MISMATCH, "3;133;32;0x00001001;"),
        (ReplyCode::POORLY_FORMED_REQUEST, "3;134;32;0x00001001;"),
        (ReplyCode::TOO_MANY_BINDINGS, "3;135;32;0x00001001;"),
        (ReplyCode::UNKNOWN_HA_ADDRESS, "3;136;32;0x00001001;"),
        (ReplyCode::HA_INSUFFICIENT_RESOURCES, "3;130;32;0x00001001;"),
        (ReplyCode::REDIRECTED_HA, "3;143;32;0x00001001;"),
    ] {
        let b = Builder::reply(Reply {
            code,
            lifetime: 0,
            ..p
        })
        .mn_ha_auth(&mn)
        .to_vec();
        out.push((b, expect));
    }
    out
}

#[test]
fn tshark_reads_every_message_and_extension_as_meant() {
    if !common::have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let msgs = messages();
    let cap = common::Capture::written("mip-tshark", "mip.pcap", |f| {
        let mut w = PcapWriter::new(f).unwrap();
        let fa: SocketAddr = (Ipv4Addr::new(198, 51, 100, 7), PORT).into();
        let ha: SocketAddr = (Ipv4Addr::new(192, 0, 2, 1), PORT).into();
        for (i, (b, _)) in msgs.iter().enumerate() {
            let (s, d) = if b[0] == 1 { (fa, ha) } else { (ha, fa) };
            w.write_udp(Duration::from_millis(i as u64), s, d, b)
                .unwrap();
        }
        drop(w.into_inner());
    });

    cap.assert_no_expert_errors();

    let text = cap.run(&[
        "-n",
        "-T",
        "fields",
        "-E",
        "separator=;",
        "-E",
        "aggregator=,",
        "-e",
        "mip.type",
        "-e",
        "mip.code",
        "-e",
        "mip.ext.type",
        "-e",
        "mip.auth.spi",
        "-e",
        "mip.nai",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{text}");
    for (line, (_, expect)) in lines.iter().zip(&msgs) {
        assert_eq!(line, expect);
    }
}
