//! One role of each subsystem, embedded the way a newcomer would from the README and the docs.
//!
//! * L2TP: an [`Lns`] that a [`Lac`] sets a call up with over UDP on 127.0.0.1 (two std
//!   sockets, one thread), then one PPP frame each way.
//! * Mobile IP: a one-member [`HomeAgent`] cluster ([`ForwardMode::Layer3`]: plain UDP) answering
//!   a co-located mobile node's Registration Request, in memory.
//! * Steering: a [`SwitchProcessor`] placing one Create PDP Context on one of two processors,
//!   in memory, on virtual time.
//!
//! `cargo run --example newcomer`.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId};
use telcp::io::MacAddr;
use telcp::l2tp::{Event, Lac, LacConfig, Lns, LnsConfig};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::{ClientConfig, ClientEvent, ForwardMode, HomeAgent, HomeAgentConfig};
use telcp::mip::{Member, MnId, MobileNodeClient, MobileNodeKey};
use telcp::steering::gtp::{CreatePdpContextRequest, Imsi};
use telcp::steering::{LineConfig, LineInterface, Processor, ProcessorConfig, SwitchConfig};
use telcp::steering::{SwitchEvent, SwitchProcessor, VidLayout};
use telcp::{Endpoint, Node};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Sends what `ep` queued from `socket`, feeds it what `socket` received, fires its timers.
fn pump<E: Endpoint>(ep: &mut E, socket: &UdpSocket, now: Instant) -> Result<()> {
    while let Some(t) = ep.poll_transmit() {
        socket.send_to(&t.payload, t.dst)?;
    }
    let (local, mut buf) = (socket.local_addr()?, [0u8; 2048]);
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        if let Err(e) = ep.handle_datagram(now, from, local, &buf[..n]) {
            eprintln!("refused from {from}: {e}");
        }
    }
    ep.handle_timeout(now);
    Ok(())
}

/// L2TP: SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN over loopback, then a PPP frame each way.
fn l2tp() -> Result<()> {
    let (lac_sock, lns_sock) = (
        UdpSocket::bind("127.0.0.1:0")?,
        UdpSocket::bind("127.0.0.1:0")?,
    );
    lac_sock.set_read_timeout(Some(Duration::from_millis(1)))?;
    lns_sock.set_read_timeout(Some(Duration::from_millis(1)))?;
    let start = Instant::now();
    let mut lac = Lac::new(LacConfig::new(lns_sock.local_addr()?), start)?;
    let mut lns = Lns::new(LnsConfig::default(), start)?;
    let call = lac.open_session(start)?;
    let (mut lac_up, mut lns_session) = (false, None);
    while !(lac_up && lns_session.is_some()) {
        let now = Instant::now();
        if now > start + Duration::from_secs(5) {
            return Err("no session after 5 s".into());
        }
        pump(&mut lac, &lac_sock, now)?;
        pump(&mut lns, &lns_sock, now)?;
        while let Some(ev) = lac.poll_event() {
            lac_up |= matches!(ev, Event::SessionUp { call: Some(c), .. } if c == call);
        }
        while let Some(ev) = lns.poll_event() {
            if let Event::SessionUp {
                session, handoff, ..
            } = ev
            {
                println!("l2tp: LNS session up: {handoff:?}");
                lns_session = Some(session);
            }
        }
    }
    let session = lns_session.ok_or("no LNS session")?;
    lac.send_ppp(call, b"\xc0\x21\x09\x01\x00\x08\0\0\0\0")?; // LCP Echo-Request
    lns.send_ppp(session, b"\xc0\x21\x0a\x01\x00\x08\0\0\0\0")?; // LCP Echo-Reply
    let (mut at_lns, mut at_lac) = (None, None);
    while at_lns.is_none() || at_lac.is_none() {
        let now = Instant::now();
        if now > start + Duration::from_secs(10) {
            return Err("PPP frames lost".into());
        }
        pump(&mut lac, &lac_sock, now)?;
        pump(&mut lns, &lns_sock, now)?;
        at_lns = at_lns.or(lns.poll_data());
        at_lac = at_lac.or(lac.poll_data());
    }
    println!("l2tp: LNS got {:02x?}", &at_lns.ok_or("none")?.frame[..]);
    println!("l2tp: LAC got {:02x?}", &at_lac.ok_or("none")?.frame[..]);
    Ok(())
}

/// Mobile IP: a co-located mobile node registers with a one-member HA cluster.
fn mobile_ip() -> Result<()> {
    let now = Instant::now();
    let wall_clock = Duration::from_secs(1_800_000_000); // both ends read the same clock
    let virt = Ipv4Addr::new(10, 1, 0, 1);
    let ha_own: SocketAddr = "10.1.0.11:434".parse()?;
    let mn_addr: SocketAddr = "192.0.2.30:434".parse()?;
    let home = Ipv4Addr::new(10, 1, 0, 5);
    let sa = SecurityAssociation::new(300, AuthAlgorithm::HmacMd5, b"mn-ha key, 16+ B".to_vec());
    let member = Member {
        node: NodeId(1),
        addr: ha_own,
        mac: MacAddr([2, 0, 0, 0, 0, 1]),
        backups: vec![],
    };
    let key = b"cluster key of 128 bits";
    let mut cfg = HomeAgentConfig::new(NodeId(1), virt, "10.1.0.0/16".parse()?, vec![member], key);
    cfg.mode = ForwardMode::Layer3;
    cfg.wall_clock = wall_clock;
    cfg.mobile_nodes = vec![MobileNodeKey {
        id: MnId::Home(home),
        sa: sa.clone(),
    }];
    let mut ha = HomeAgent::new(cfg, now)?;
    let virtual_ha = SocketAddr::new(virt.into(), 434);
    let mut mn = MobileNodeClient::new(
        ClientConfig::new(home, sa, virtual_ha, mn_addr, wall_clock),
        now,
    )?;
    mn.register(now);
    let rrq = mn.poll_transmit().ok_or("no Registration Request")?;
    ha.handle_datagram(now, mn_addr, rrq.dst, &rrq.payload)?;
    while let Some(rrp) = ha.poll_transmit() {
        if rrp.dst == mn_addr {
            println!("mip: Registration Reply from {:?}", rrp.src);
            mn.handle_datagram(now, rrp.src.unwrap_or(ha_own), mn_addr, &rrp.payload)?;
        }
    }
    match mn.poll_event() {
        Some(ev @ ClientEvent::Registered { .. }) => {
            println!("mip: {ev:?}, HA serves {}", ha.served())
        }
        other => return Err(format!("not registered: {other:?}").into()),
    }
    Ok(())
}

/// Steering: line interface, switch processor, two processors; one Create PDP Context placed.
fn steering() -> Result<()> {
    let a = |s: &str| s.parse::<SocketAddr>();
    let (line_fabric, switch_fabric) = (a("10.9.0.1:5000")?, a("10.9.0.2:5000")?);
    let (p11, p12) = (a("10.9.0.11:5000")?, a("10.9.0.12:5000")?);
    let (gtp_c, sgsn_c) = (a("192.0.2.1:2123")?, a("198.51.100.1:2123")?);
    let (layout, key) = (VidLayout::default(), ClusterKey::new(b"fabric cluster key"));
    let mut now = Instant::now();
    let line_cfg = LineConfig::new(line_fabric, switch_fabric, layout, NodeId(2), key.clone());
    let line = LineInterface::new(line_cfg, now)?;
    let procs = vec![(NodeId(11), p11), (NodeId(12), p12)];
    let cfg = SwitchConfig::new(
        NodeId(1),
        switch_fabric,
        vec![line_fabric],
        procs.clone(),
        layout,
        key.clone(),
    );
    let switch = SwitchProcessor::new(cfg, now)?;
    let mut nodes: Vec<(Vec<SocketAddr>, Box<dyn Node>)> = vec![
        (vec![line_fabric, gtp_c], Box::new(line)),
        (vec![switch_fabric], Box::new(switch)),
    ];
    for (id, addr) in procs {
        let pool = "10.0.0.0/8".parse()?;
        let cfg = ProcessorConfig::new(
            id,
            addr,
            switch_fabric,
            line_fabric,
            layout,
            pool,
            key.clone(),
        );
        nodes.push((vec![addr], Box::new(Processor::new(cfg, now)?)));
    }
    let mut placed = None;
    for step in 0..40 {
        now += Duration::from_millis(100);
        if step == 20 {
            // 2 s in, every processor is Up: the SGSN asks for a context (TEID 0, to the line).
            let request = CreatePdpContextRequest::new(
                Imsi::from_digits("001010123456789"),
                0x1000,
                5,
                sgsn_c.ip(),
            );
            nodes[0]
                .1
                .handle_datagram(now, sgsn_c, gtp_c, &request.message(1).to_vec()?)?;
        }
        loop {
            let mut wire = Vec::new();
            for (addrs, node) in nodes.iter_mut() {
                node.handle_timeout(now);
                while let Some(t) = node.poll_transmit() {
                    wire.push((t.src.unwrap_or(addrs[0]), t));
                }
                while let Some(ev) = node.poll_event() {
                    if let telcp::Event::Switch(SwitchEvent::SetupDirected { primary, backup }) = ev
                    {
                        placed = Some((primary, backup));
                    }
                }
            }
            if wire.is_empty() {
                break;
            }
            for (from, t) in wire {
                match nodes.iter_mut().find(|(addrs, _)| addrs.contains(&t.dst)) {
                    Some((_, node)) => node.handle_datagram(now, from, t.dst, &t.payload)?,
                    None => println!("steering: to the SGSN {}: {} bytes", t.dst, t.payload.len()),
                }
            }
        }
    }
    let (vid, backup) = placed.ok_or("the set-up was not placed")?;
    println!("steering: session placed on VID {vid:?}, backup {backup:?}");
    Ok(())
}

fn main() -> Result<()> {
    l2tp()?;
    mobile_ip()?;
    steering()
}
