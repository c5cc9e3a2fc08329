//! The demo's story, checked: in the deterministic simulator (several seeds, with loss) and once
//! over real UDP sockets on loopback, with tshark over the capture it writes.

#[path = "../examples/common/mod.rs"]
mod common;
#[path = "common/sweep.rs"]
mod sweep;

use common::stories::{Summary, Trace, run_all};
use common::{Net, UdpLoop};
use std::time::Instant;
use telcp::sim::{LinkConfig, Sim};

/// What every run of the story must show, loss or not.
fn check(s: &Summary, lossy: bool, label: &str) {
    let f = |k: &str| s.get(k);
    // Every failure names all the figures: a failed seed of a sweep is classed from its message.
    let label = &format!("{label}: {:?}", s.facts);
    // L2TP: both calls redirected by the contact LNS, to two different pool LNSs (the second after
    // the first pool LNS stopped); the contact keeps no session; frames reach the pool LNS.
    assert_eq!(f("l2tp.calls_established"), 2, "{label}");
    assert_eq!(f("l2tp.redirects"), 2, "{label}");
    assert_eq!(f("l2tp.calls_at_distinct_pool_lns"), 2, "{label}");
    assert_eq!(f("l2tp.contact_sessions"), 0, "{label}");
    assert!(
        f("l2tp.frames_in") > 0 && f("l2tp.frames_echoed") > 0,
        "{label}"
    );
    // Issue 15: the stopped pool LNS's session continues at its backup (PPP frames sent after
    // the takeover arrive there and its echoes come back).
    assert_eq!(f("l2tp.sessions_taken_over"), 1, "{label}");
    assert!(
        f("l2tp.frames_after_takeover") > 0 && f("l2tp.frames_echoed_after_takeover") > 0,
        "{label}"
    );
    // Mobile IP: every registration (before and after the failover) accepted; the stopped HA's
    // bindings all moved.
    assert_eq!(
        f("mip.registrations"),
        f("mip.registrations_asked"),
        "{label}"
    );
    assert_eq!(f("mip.bindings_moved"), f("mip.victim_served"), "{label}");
    // Steering: all contexts accepted; the switch processor saw none of the later packets; the
    // stopped processor's sessions were served by their backups.
    assert_eq!(f("gtp.accepted"), f("gtp.contexts"), "{label}");
    assert_eq!(f("gtp.switch_saw_after_setups"), 0, "{label}");
    assert_eq!(f("gtp.victim_packets_after"), 0, "{label}");
    assert!(
        f("gtp.victim_sessions") > 0 && f("gtp.to_backup") > 0,
        "{label}"
    );
    assert_eq!(f("gtp.updates_answered"), f("gtp.contexts"), "{label}");
    // Steering for 5G: the SMF associated and every session was established with CHOOSE; the
    // switch processor saw none of the later packets (uplink G-PDUs, modifications); the stopped
    // processor's sessions were modified at their backups; the SMF's restart (a new Recovery
    // Time Stamp) purged every session it had, on every processor, once.
    assert_eq!(f("pfcp.associated"), 1, "{label}");
    assert_eq!(f("pfcp.established"), f("pfcp.sessions"), "{label}");
    assert_eq!(f("pfcp.switch_saw_after_setups"), 0, "{label}");
    assert_eq!(f("pfcp.victim_packets_after"), 0, "{label}");
    assert!(
        f("pfcp.victim_sessions") > 0 && f("pfcp.to_backup") > 0,
        "{label}"
    );
    assert_eq!(
        f("pfcp.modified_after_failover"),
        f("pfcp.sessions"),
        "{label}"
    );
    assert_eq!(f("pfcp.peer_restarts"), 1, "{label}");
    assert_eq!(f("pfcp.purged"), f("pfcp.sessions"), "{label}");
    assert!(
        f("pfcp.purged_at_processors") >= f("pfcp.sessions"),
        "{label}"
    );
    assert_eq!(f("pfcp.left_after_restart"), 0, "{label}");
    if !lossy {
        assert_eq!(f("l2tp.frames_echoed"), 10, "{label}");
        assert_eq!(f("l2tp.frames_after_takeover"), 5, "{label}");
        assert_eq!(f("l2tp.frames_echoed_after_takeover"), 5, "{label}");
        assert_eq!(f("gtp.packets_after"), 80, "{label}");
        assert_eq!(f("pfcp.packets_after"), 30, "{label}");
    }
}

fn sim(seed: u64) -> Net {
    let mut s = Sim::new(seed, Instant::now());
    s.set_default_link(LinkConfig::lossy(0.05, 0.01, 0.02));
    Net::Sim(Box::new(s), Vec::new())
}

#[test]
fn demo_story_in_the_simulator() {
    sweep::for_each_seed(sweep::seed_range_from(1, sweep::seeds(3)), |seed| {
        let mut net = sim(seed);
        // `TELCP_TRACE=1` (with `--nocapture`) prints the story's steps, to replay a seed.
        let quiet = std::env::var_os("TELCP_TRACE").is_none();
        let s = run_all(&mut net, &Trace { quiet });
        check(&s, true, &format!("sim seed {seed}"));
    });
}

#[test]
fn demo_story_is_deterministic_in_the_simulator() {
    let capture = |seed| {
        let mut net = sim(seed);
        let s = run_all(&mut net, &Trace { quiet: true });
        let Net::Sim(sim, _) = net else {
            unreachable!()
        };
        (s.facts, sim.write_pcap(Vec::new()).unwrap())
    };
    let (a, b) = (capture(9), capture(9));
    assert_eq!(a.0, b.0, "same seed, different figures");
    assert!(
        a.1 == b.1,
        "same seed, different captures ({} vs {} bytes)",
        a.1.len(),
        b.1.len()
    );
}

#[test]
fn demo_story_over_loopback_sockets() {
    let dir = std::env::temp_dir().join(format!("telcp-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("demo.pcap");
    let mut net = Net::Udp(UdpLoop::new(Some(pcap.to_str().unwrap())).unwrap());
    let s = run_all(&mut net, &Trace { quiet: true });
    drop(net);
    check(&s, false, "sockets");

    // tshark's dissectors as a second opinion on every datagram the story sent.
    let Ok(out) = std::process::Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-q", "-z", "expert,error"])
        .output()
    else {
        println!("skipped: tshark not found");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Errors ("), "tshark reports errors:\n{text}");
    let protos = std::process::Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.protocols",
        ])
        .output()
        .unwrap();
    let protos = String::from_utf8_lossy(&protos.stdout);
    for p in ["l2tp", "mip", "gtp", "pfcp"] {
        assert!(
            protos.lines().any(|l| l.split(':').any(|x| x == p)),
            "no {p} in the capture"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
