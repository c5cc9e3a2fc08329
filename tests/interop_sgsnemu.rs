//! A real sgsnemu (osmo-ggsn) against `examples/std_loop/gateway.rs` over loopback UDP: its Echo Request
//! and Create PDP Context Request are answered, it logs the End User Address the processor
//! assigned, the TEIDs carry the VIDs, and its G-PDUs (`--pinghost`) are steered straight to the
//! processor; and a G-PDU naming no context is answered with an Error Indication that sgsnemu
//! takes; and its Delete PDP Context Request naming no context is answered with Cause
//! Non-existent. Skipped when sgsnemu is not installed. sgsnemu ignores SIGTERM, so it always runs
//! under `timeout -s KILL`.

#[path = "../examples/std_loop/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use telcp::steering::processor::ProcessorEvent;
use telcp::steering::{LineInterface, Processor, SwitchProcessor};

fn present(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A steering gateway (`examples/std_loop/gateway.rs`) on `gw_ip`, given time for every processor to get
/// its VID, and a real sgsnemu on `sgsn_ip` pinging through it `pings` times at `rate` per second,
/// line-buffered into a log, killed after `kill_after` seconds (it ignores SIGTERM).
struct Run {
    g: gateway::Gateway,
    child: std::process::Child,
    dir: std::path::PathBuf,
    log_path: std::path::PathBuf,
}

struct Setup<'a> {
    gw_ip: Ipv4Addr,
    sgsn_ip: &'a str,
    processors: u32,
    fabric_port: u16,
    tag: &'a str,
    kill_after: &'a str,
    pings: &'a str,
    rate: &'a str,
}

fn start(s: &Setup<'_>) -> Run {
    let mut g = gateway::build(&gateway::Options {
        listen: s.gw_ip,
        processors: s.processors,
        fabric_port: s.fabric_port,
        pcap: None,
    })
    .expect("bind the gateway's loopback sockets");
    // Let every processor get its VID and come up before sgsnemu starts.
    g.net.run_for(Duration::from_millis(1200));
    let dir = std::env::temp_dir().join(format!("telcp-sgsnemu{}-{}", s.tag, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("sgsnemu.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.args(["-s", "KILL", s.kill_after]);
    if present("stdbuf") {
        // Line-buffered stdout, so nothing is lost when the KILL comes.
        cmd.args(["stdbuf", "-oL", "-eL"]);
    }
    cmd.arg("sgsnemu")
        .args(["-l", s.sgsn_ip, "-r", &s.gw_ip.to_string()])
        .arg("--statedir")
        .arg(&dir)
        .arg("--pidfile")
        .arg(dir.join("sgsnemu.pid"))
        .args([
            "--pinghost",
            "192.0.2.1",
            "--pingcount",
            s.pings,
            "--pingrate",
            s.rate,
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let child = cmd.spawn().expect("spawn sgsnemu under timeout");
    Run {
        g,
        child,
        dir,
        log_path,
    }
}

#[test]
fn sgsnemu_sets_up_a_pdp_context_through_the_steering_gateway() {
    if !present("sgsnemu") || !present("timeout") {
        println!("skipped: sgsnemu not found");
        return;
    }
    // Addresses of their own, so no other test or demo on this machine collides.
    let gw_ip = Ipv4Addr::new(127, 0, 0, 41);
    let Run {
        mut g,
        mut child,
        dir,
        log_path,
    } = start(&Setup {
        gw_ip,
        sgsn_ip: "127.0.0.42",
        processors: 3,
        fabric_port: 40400,
        tag: "",
        kill_after: "5",
        pings: "3",
        rate: "5",
    });

    let mut created = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    let mut exited = false;
    while Instant::now() < end {
        g.net.run_for(Duration::from_millis(50));
        for &p in &g.processors {
            while let Some(e) = g.net.poll_event_of::<Processor>(p) {
                if let ProcessorEvent::SessionCreated {
                    teid,
                    ue_addr,
                    backup,
                    ..
                } = e
                {
                    created.push((p, teid, ue_addr, backup));
                }
            }
        }
        if child.try_wait().ok().flatten().is_some() {
            exited = true;
            break;
        }
    }
    if !exited {
        let _ = child.kill();
    }
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!("--- sgsnemu log ---\n{log}");

    assert_eq!(created.len(), 1, "one PDP context created");
    let (p, teid, ue, backup) = created[0];
    let vid = g.net.node_mut::<Processor>(p).vid().unwrap();
    assert_eq!(
        g.layout.primary(teid),
        Some(vid),
        "the TEID carries the processor's VID"
    );
    assert!(
        backup.is_some_and(|b| b != vid),
        "and a different backup's VID"
    );
    assert_eq!(g.layout.backup(teid), backup);

    assert!(
        log.contains("Received echo response"),
        "sgsnemu got our Echo Response"
    );
    assert!(
        log.contains("Received create PDP context response"),
        "sgsnemu got our Create PDP Context Response"
    );
    assert!(
        log.contains(&format!("IP address: {ue}")),
        "sgsnemu logged the End User Address we assigned ({ue})"
    );

    // Its G-PDUs went from the line interface straight to the processor.
    let user = g.net.node_mut::<Processor>(p).stats().user_packets;
    let li = g.net.node_mut::<LineInterface>(g.line).stats();
    let sp = g.net.node_mut::<SwitchProcessor>(g.switch).stats();
    println!("processor user packets {user}, line {li:?}, switch {sp:?}");
    assert!(user >= 1, "sgsnemu's pings reached the processor");
    assert_eq!(
        sp.from_line, li.to_switch,
        "only TEID-0 messages reached the switch"
    );
    assert!(li.to_primary >= user);
    let _ = std::fs::remove_dir_all(&dir);
}

/// sgsnemu creates a context and pings through it; then the line interface is given a table
/// without the processor's VID (as if the processor and its sessions were gone), so sgsnemu's
/// next G-PDUs name no context: the gateway answers each with an Error Indication (bounded by
/// its token bucket), and sgsnemu, a real osmo-ggsn GTP stack, takes it: it logs it and frees
/// the context (TS 29.060 section 7.3.7).
#[test]
fn sgsnemu_takes_our_error_indication_for_a_g_pdu_naming_no_context() {
    if !present("sgsnemu") || !present("timeout") {
        println!("skipped: sgsnemu not found");
        return;
    }
    let gw_ip = Ipv4Addr::new(127, 0, 0, 43);
    let Run {
        mut g,
        mut child,
        dir,
        log_path,
    } = start(&Setup {
        gw_ip,
        sgsn_ip: "127.0.0.44",
        processors: 2,
        fabric_port: 40500,
        tag: "-ei",
        kill_after: "6",
        pings: "40",
        rate: "10",
    });

    let mut vid = None;
    let mut pulled = false;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        g.net.run_for(Duration::from_millis(50));
        for &p in &g.processors {
            while let Some(e) = g.net.poll_event_of::<Processor>(p) {
                if let ProcessorEvent::SessionCreated { teid, .. } = e {
                    vid = g.layout.primary(teid);
                }
            }
        }
        let user: u64 = g
            .processors
            .iter()
            .map(|&p| g.net.node_mut::<Processor>(p).stats().user_packets)
            .sum();
        if let (Some(v), false, true) = (vid, pulled, user >= 2) {
            // The processor's VID leaves the line interface's table (a version no push of this
            // switch incarnation reaches, so it stays).
            let entries: Vec<_> = g
                .net
                .node_mut::<SwitchProcessor>(g.switch)
                .table()
                .into_iter()
                .filter(|e| e.vid != v)
                .collect();
            assert!(
                g.net
                    .node_mut::<LineInterface>(g.line)
                    .apply_update(u64::MAX / 2, &entries)
            );
            pulled = true;
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!("--- sgsnemu log ---\n{log}");
    let li = g.net.node_mut::<LineInterface>(g.line).stats();
    println!("line {li:?}");
    assert!(
        pulled,
        "sgsnemu's context was created and its pings arrived"
    );
    assert!(
        li.error_indications >= 1,
        "G-PDUs naming no VID were answered"
    );
    assert!(
        li.error_indications + li.error_indications_suppressed
            == li.drops(telcp::steering::line::DropReason::UnknownVid)
    );
    assert!(
        log.contains("Received Error Indication"),
        "sgsnemu took our Error Indication"
    );
    // It freed the context: its remaining pings (about 35 of 40) never left as G-PDUs.
    assert!(
        li.drops(telcp::steering::line::DropReason::UnknownVid) <= 5,
        "sgsnemu kept sending after our Error Indication"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// sgsnemu creates a context and sends three pings through it; then the line interface is given
/// a table without the processor's VID (as if the processor and its sessions were gone), and
/// sgsnemu is interrupted (SIGINT), so it deletes the context: its Delete PDP Context Request
/// names no VID, and the line interface answers it with a Delete PDP Context Response carrying
/// Cause Non-existent, TEID 0 and its sequence number. sgsnemu, a real osmo-ggsn GTP stack,
/// takes it as the answer to its request (found by the sequence number; it does not retransmit)
/// and logs it; its library then looks the context up by the header TEID, 0, finds none and
/// reports the cause to sgsnemu as -1 rather than 192 (it logs that this is expected when the
/// context is gone).
#[test]
fn sgsnemu_takes_our_non_existent_answer_to_a_delete_naming_no_context() {
    if !present("sgsnemu") || !present("timeout") {
        println!("skipped: sgsnemu not found");
        return;
    }
    let gw_ip = Ipv4Addr::new(127, 0, 0, 45);
    let Run {
        mut g,
        mut child,
        dir,
        log_path,
    } = start(&Setup {
        gw_ip,
        sgsn_ip: "127.0.0.46",
        processors: 2,
        fabric_port: 40600,
        tag: "-ne",
        kill_after: "8",
        pings: "3",
        rate: "10",
    });

    let mut pulled = false;
    let mut seen = None;
    let mut pulled_at = None;
    let mut interrupted = false;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        g.net.run_for(Duration::from_millis(50));
        let mut vid = None;
        for &p in &g.processors {
            while let Some(e) = g.net.poll_event_of::<Processor>(p) {
                if let ProcessorEvent::SessionCreated { teid, .. } = e {
                    vid = g.layout.primary(teid);
                }
            }
        }
        if vid.is_some() {
            seen = vid;
        }
        let user: u64 = g
            .processors
            .iter()
            .map(|&p| g.net.node_mut::<Processor>(p).stats().user_packets)
            .sum();
        // Once its pings went through, before it deletes the context.
        if let (Some(v), false, true) = (seen, pulled, user >= 3) {
            let entries: Vec<_> = g
                .net
                .node_mut::<SwitchProcessor>(g.switch)
                .table()
                .into_iter()
                .filter(|e| e.vid != v)
                .collect();
            assert!(
                g.net
                    .node_mut::<LineInterface>(g.line)
                    .apply_update(u64::MAX / 2, &entries)
            );
            pulled = true;
            pulled_at = Some(Instant::now());
        }
        if let (Some(t), false) = (pulled_at, interrupted) {
            if t.elapsed() > Duration::from_millis(300) {
                let pid = std::fs::read_to_string(dir.join("sgsnemu.pid")).unwrap_or_default();
                let _ = Command::new("kill").args(["-INT", pid.trim()]).status();
                interrupted = true;
            }
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!("--- sgsnemu log ---\n{log}");
    let li = g.net.node_mut::<LineInterface>(g.line).stats();
    println!("line {li:?}");
    assert!(pulled && interrupted, "sgsnemu's context was created");
    assert_eq!(li.error_indications, 0);
    // One Delete arrived and was answered: sgsnemu matched the answer to its request by the
    // sequence number and did not retransmit it.
    assert_eq!(li.non_existent, 1, "its Delete naming no VID was answered");
    assert_eq!(li.drops(telcp::steering::line::DropReason::UnknownVid), 1);
    assert!(
        log.contains("Received delete PDP context response"),
        "sgsnemu took our Non-existent answer"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
