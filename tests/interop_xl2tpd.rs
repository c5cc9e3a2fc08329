//! A real peer: Debian's xl2tpd as LAC against our LNS (`examples/lns.rs`) on loopback.
//!
//! 1. With challenge authentication on both sides: SCCRQ/SCCRP/SCCCN and ICRQ/ICRP/ICCN appear in
//!    the trace with TunnelUp and SessionUp; xl2tpd's pppd cannot start (no /dev/ppp), xl2tpd sends
//!    CDN, our LNS reports SessionDown and the tunnel stays up.
//! 2. Our contact LNS answers xl2tpd's ICRQ with CDN Result 2 / Error 9 listing 192.0.2.7, and
//!    xl2tpd logs the result.
//!
//! Skips when xl2tpd is absent.

#[path = "../examples/lns.rs"]
mod lns_example;

use std::io::Read;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

fn xl2tpd() -> Option<PathBuf> {
    ["/usr/sbin/xl2tpd", "/usr/bin/xl2tpd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Run {
    trace: Vec<String>,
    xl2tpd_log: String,
}

fn run(challenge: bool, redirect_to: Option<&str>) -> Run {
    let dir =
        std::env::temp_dir().join(format!("telcp-xl2tpd-{}-{}", std::process::id(), challenge));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lns_port = free_port();
    let lac_port = free_port();
    let secret = "s3cret-xl2tpd";
    let (tx, rx) = mpsc::channel::<String>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let opts = lns_example::Options {
        bind: format!("127.0.0.1:{lns_port}").parse().unwrap(),
        secret: Some(secret.as_bytes().to_vec()),
        challenge,
        redirect_to: redirect_to.map(|a| a.parse().unwrap()),
        duration: Duration::from_secs(30),
    };
    let lns = std::thread::spawn(move || {
        lns_example::run(
            opts,
            &mut |l| {
                let _ = tx.send(l);
            },
            &|| stop2.load(Ordering::Relaxed),
        )
        .unwrap();
    });
    let conf = dir.join("xl2tpd.conf");
    std::fs::write(dir.join("ppp.opts"), "noauth\n").unwrap();
    std::fs::write(dir.join("secrets"), format!("* * {secret}\n")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "[global]\nlisten-addr = 127.0.0.1\nport = {lac_port}\naccess control = no\n\n[lac x]\nlns = 127.0.0.1:{lns_port}\nautodial = no\nredial = no\nchallenge = {}\nhostname = xl2tpd-lac\npppoptfile = {}\n",
            if challenge { "yes" } else { "no" },
            dir.join("ppp.opts").display()
        ),
    )
    .unwrap();
    let ctl = dir.join("ctl");
    let mut child = Command::new(xl2tpd().unwrap())
        .args(["-D", "-c"])
        .arg(&conf)
        .arg("-s")
        .arg(dir.join("secrets"))
        .arg("-p")
        .arg(dir.join("pid"))
        .arg("-C")
        .arg(&ctl)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ctl.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&ctl, "c x\n").unwrap();
    let mut trace = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // On a loaded machine xl2tpd may not yet read its control pipe when the first "c x" comes:
    // dial again while nothing has arrived from it.
    let mut dialed = (Instant::now(), 1);
    while Instant::now() < deadline {
        if trace.is_empty() && dialed.0.elapsed() > Duration::from_secs(3) && dialed.1 < 4 {
            std::fs::write(&ctl, "c x\n").unwrap();
            dialed = (Instant::now(), dialed.1 + 1);
        }
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = if redirect_to.is_some() {
                l.contains("send") && l.contains("CDN")
            } else {
                l.contains("SessionDown")
            };
            trace.push(l);
            if done {
                // Let the last acknowledgements and any late message arrive.
                let until = Instant::now() + Duration::from_secs(2);
                while let Ok(l) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    trace.push(l);
                }
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    stop.store(true, Ordering::Relaxed);
    let _ = lns.join();
    trace.extend(rx.try_iter());
    let mut xl2tpd_log = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut xl2tpd_log);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut xl2tpd_log);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Run { trace, xl2tpd_log }
}

fn position(trace: &[String], a: &str, b: &str) -> Option<usize> {
    trace.iter().position(|l| l.starts_with(a) && l.contains(b))
}

#[test]
fn xl2tpd_lac_sets_up_tunnel_and_session_with_challenge() {
    if xl2tpd().is_none() {
        println!("skipped: xl2tpd not found");
        return;
    }
    let r = run(true, None);
    let t = &r.trace;
    let text = t.join("\n");
    let order = [
        ("recv", "SCCRQ"),
        ("send", "SCCRP"),
        ("recv", "SCCCN"),
        ("recv", "ICRQ"),
        ("send", "ICRP"),
        ("recv", "ICCN"),
        ("event", "SessionUp"),
        ("recv", "CDN"),
        ("event", "SessionDown"),
    ];
    let mut last = 0;
    for (a, b) in order {
        let p = position(&t[last..], a, b).map(|p| p + last);
        assert!(
            p.is_some(),
            "missing {a} {b} after line {last}:\n{text}\n--- xl2tpd:\n{}",
            r.xl2tpd_log
        );
        last = p.unwrap();
    }
    assert!(text.contains("event TunnelUp"), "{text}");
    assert!(!text.contains("TunnelDown"), "{text}");
    assert!(!text.contains("input error"), "{text}");
    assert!(!text.contains("StopCCN"), "{text}");
}

#[test]
fn xl2tpd_lac_gets_try_another_directed() {
    if xl2tpd().is_none() {
        println!("skipped: xl2tpd not found");
        return;
    }
    let r = run(false, Some("192.0.2.7"));
    let text = r.trace.join("\n");
    assert!(position(&r.trace, "recv", "ICRQ").is_some(), "{text}");
    assert!(position(&r.trace, "send", "CDN").is_some(), "{text}");
    assert!(text.contains("RedirectIssued"), "{text}");
    println!(
        "{}",
        r.xl2tpd_log
            .lines()
            .filter(|l| l.contains("192.0.2.7"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        r.xl2tpd_log.contains("192.0.2.7"),
        "xl2tpd log lacks the directed address:\n{}\n--- trace:\n{text}",
        r.xl2tpd_log
    );
}
