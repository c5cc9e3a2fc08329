//! A real LNS with PPP up: Debian's l2tpns (PPP in user space) in a network namespace of its own,
//! with its own tun device and its own freeradius (a test user, PAP and CHAP), behind our contact
//! LNS (`telcp::l2tp::Lns`), which redirects our LAC (`telcp::l2tp::Lac`) to it in each of the
//! three forms (vendor `RedirectTarget` in ICRP, CDN Result 2 / Error 9, tunnel-level StopCCN with
//! `RedirectTarget`). On the session l2tpns gives the LAC, a scripted PPP client
//! (`tests/common/ppp.rs`) brings up LCP, authenticates (PAP or CHAP through RADIUS), gets an
//! address from l2tpns's pool in IPCP and pings the LNS's tun address; the echo is answered
//! through the session. Then the call ends:
//!
//! - vendor AVP (PAP) and Error 9 (CHAP): the client sends LCP Terminate-Request (l2tpns 2.4.1
//!   answers Terminate-Ack but keeps the session), then a RADIUS Disconnect-Request (RFC 5176)
//!   to l2tpns's DAE port makes l2tpns hang up with CDN; our LAC closes the idle tunnel with
//!   StopCCN Result 1 and l2tpns acknowledges it;
//! - tunnel-level (CHAP): l2tpns is told to shut down (SIGQUIT) and sends StopCCN Result 6, which
//!   our LAC acknowledges, ending the session with it.
//!
//! The whole exchange is captured (dumpcap on the host side) and tshark finds no malformed packet.
//! Needs root (namespaces, veth, tun), l2tpns, freeradius and `ip`; skips with a message
//! otherwise. Every process started is killed and the namespace removed on drop.

mod common;

use common::ppp::{Auth, Client, Phase};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use telcp::l2tp::pool::MemberState;
use telcp::l2tp::wire::{Message, ParseOptions};
use telcp::l2tp::{Event, Lac, LacConfig, Lns, LnsConfig};

const L2TPNS: &str = "/usr/sbin/l2tpns";
const FREERADIUS: &str = "/usr/sbin/freeradius";
const TUNNEL_SECRET: &str = "telcp-l2tpns-tunnel";
const RADIUS_SECRET: &str = "telcp-radius";
const USER: &str = "telcp-user";
const PASSWORD: &str = "telcp-password";

/// Why this test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    for tool in [L2TPNS, FREERADIUS] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} not found"));
        }
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        });
    if uid.as_deref() != Some("0") {
        return Some("not root (network namespaces, veth and tun need it)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun missing".into());
    }
    // l2tpns reads its address pool from /etc/l2tpns/ip_pool: the test mounts its own directory
    // over /etc/l2tpns inside l2tpns's mount namespace, which needs the directory to exist.
    if !Path::new("/etc/l2tpns").is_dir() {
        return Some("/etc/l2tpns missing (l2tpns package incomplete)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("ip (iproute2) not found".into()),
    }
}

/// Runs a command, panicking with its output on failure.
fn run(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The namespace, the veth pair, the daemons and the capture; all removed on drop.
struct World {
    ns: String,
    host_if: String,
    dir: PathBuf,
    /// Host side of the veth pair: our contact LNS and LAC.
    host: Ipv4Addr,
    /// Namespace side: l2tpns.
    lns: Ipv4Addr,
    /// l2tpns's tun address (the address pinged).
    tun: Ipv4Addr,
    /// l2tpns's address pool (a /28).
    pool: Ipv4Addr,
    l2tpns: Option<Child>,
    freeradius: Option<Child>,
    dumpcap: Option<Child>,
}

impl World {
    fn start() -> World {
        let pid = std::process::id();
        let n = (pid % 250 + 1) as u8;
        let dir = std::env::temp_dir().join(format!("telcp-l2tpns-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::create_dir_all(dir.join("radius")).unwrap();
        let mut w = World {
            ns: format!("telcp-l2tpns-{pid}"),
            host_if: format!("tl{pid}h"),
            dir,
            host: Ipv4Addr::new(10, 201, n, 1),
            lns: Ipv4Addr::new(10, 201, n, 2),
            tun: Ipv4Addr::new(10, 202, n, 129),
            pool: Ipv4Addr::new(10, 202, n, 0),
            l2tpns: None,
            freeradius: None,
            dumpcap: None,
        };
        let ns_if = format!("tl{pid}n");
        let ns = w.ns.clone();
        let host_cidr = format!("{}/30", w.host);
        let lns_cidr = format!("{}/30", w.lns);
        run(&["ip", "netns", "add", &ns]);
        run(&[
            "ip", "link", "add", &w.host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        run(&["ip", "link", "set", &ns_if, "netns", &ns]);
        run(&["ip", "addr", "add", &host_cidr, "dev", &w.host_if]);
        run(&["ip", "link", "set", &w.host_if, "up"]);
        let exec = ["ip", "netns", "exec", &ns];
        run(&[&exec[..], &["ip", "addr", "add", &lns_cidr, "dev", &ns_if]].concat());
        run(&[&exec[..], &["ip", "link", "set", &ns_if, "up"]].concat());
        run(&[&exec[..], &["ip", "link", "set", "lo", "up"]].concat());
        w.start_capture();
        w.start_freeradius();
        w.start_l2tpns(&ns_if);
        w
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    fn wait_log(&self, name: &str, what: &str, within: Duration) {
        let t0 = Instant::now();
        while !self.log(name).contains(what) {
            assert!(
                t0.elapsed() < within,
                "{name} never said {what:?}:\n{}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A daemon in the namespace, its standard output and error into `log`.
    fn spawn_in_ns(&self, script: &str, log: &str) -> Child {
        let out = std::fs::File::create(self.dir.join(log)).unwrap();
        Command::new("ip")
            .args(["netns", "exec", &self.ns, "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap()
    }

    /// dumpcap on every interface of the host namespace, L2TP to and from our addresses only:
    /// the contact LNS on loopback and l2tpns over the veth pair.
    fn start_capture(&mut self) {
        if Command::new("dumpcap").arg("-v").output().is_err() {
            println!("dumpcap not found: no capture");
            return;
        }
        let filter = format!("host {} and udp port 1701", self.host);
        let out = std::fs::File::create(self.dir.join("dumpcap.log")).unwrap();
        let child = Command::new("dumpcap")
            .args(["-q", "-i", "any", "-f", &filter, "-w"])
            .arg(self.dir.join("l2tpns.pcapng"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.dumpcap = Some(child);
        // dumpcap creates the file once it captures.
        let t0 = Instant::now();
        while !self.dir.join("l2tpns.pcapng").exists() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// freeradius with a configuration of its own: one client (l2tpns on loopback), one user
    /// whose cleartext password serves both PAP and CHAP.
    fn start_freeradius(&mut self) {
        let d = self.dir.join("radius");
        let conf = include_str!("vectors/l2tpns/radiusd.conf")
            .replace("@DIR@", &d.display().to_string())
            .replace("@RADIUS_SECRET@", RADIUS_SECRET)
            .replace("@USER@", USER)
            .replace("@PASSWORD@", PASSWORD);
        std::fs::write(d.join("radiusd.conf"), conf).unwrap();
        let script = format!("exec {FREERADIUS} -X -n radiusd -d {}", d.display());
        self.freeradius = Some(self.spawn_in_ns(&script, "freeradius.log"));
        self.wait_log(
            "freeradius.log",
            "Ready to process requests",
            Duration::from_secs(15),
        );
    }

    /// l2tpns with its own startup-config and, mounted over /etc/l2tpns in its own mount
    /// namespace, its own address pool.
    fn start_l2tpns(&mut self, ns_if: &str) {
        let d = &self.dir;
        std::fs::write(d.join("etc/ip_pool"), format!("{}/28\n", self.pool)).unwrap();
        std::fs::write(d.join("etc/users"), "").unwrap();
        let conf = include_str!("vectors/l2tpns/startup-config")
            .replace("@DIR@", &d.display().to_string())
            .replace("@TUNNEL_SECRET@", TUNNEL_SECRET)
            .replace("@RADIUS_SECRET@", RADIUS_SECRET)
            .replace("@TUN@", &self.tun.to_string())
            .replace("@CLUSTER_IF@", ns_if);
        std::fs::write(d.join("startup-config"), conf).unwrap();
        let script = format!(
            "mount --bind {dir}/etc /etc/l2tpns && exec {L2TPNS} -c {dir}/startup-config",
            dir = d.display()
        );
        self.l2tpns = Some(self.spawn_in_ns(&script, "l2tpns.out"));
        // l2tpns ignores control messages until it declares itself cluster master.
        self.wait_log(
            "l2tpns.log",
            "I am declaring myself the master",
            Duration::from_secs(20),
        );
    }

    /// Signals a child (by its id) with `sig` ("INT", "QUIT").
    fn signal(child: &Option<Child>, sig: &str) {
        if let Some(c) = child {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status();
        }
    }

    /// A RADIUS Disconnect-Request (RFC 5176) for our user at `address`, sent by radclient from
    /// the namespace to l2tpns's DAE port; radclient's output.
    fn disconnect(&self, user: &str, address: Option<Ipv4Addr>) -> String {
        let mut attrs = format!("User-Name = \"{user}\"");
        if let Some(a) = address {
            attrs.push_str(&format!(", Framed-IP-Address = {a}"));
        }
        let script = format!(
            "echo '{attrs}' | radclient -r 2 -t 2 127.0.0.1:3799 disconnect {RADIUS_SECRET}"
        );
        let o = Command::new("ip")
            .args(["netns", "exec", &self.ns, "sh", "-c", &script])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
        .replace('\n', " ")
    }

    /// Stops the capture (SIGINT, so dumpcap writes out what it has) and returns the file.
    fn stop_capture(&mut self) -> Option<PathBuf> {
        Self::signal(&self.dumpcap, "INT");
        let mut c = self.dumpcap.take()?;
        let t0 = Instant::now();
        while c.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        Some(self.dir.join("l2tpns.pcapng"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for c in [&mut self.dumpcap, &mut self.l2tpns, &mut self.freeradius]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        if std::env::var_os("KEEP_PCAP").is_some() {
            println!("kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// How the contact LNS redirects the LAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// ICRP with the vendor `RedirectTarget` AVP (the LAC says `LoadBalanceCapable` in ICRQ).
    VendorAvp,
    /// CDN Result 2 / Error 9 listing l2tpns (the LAC does not say `LoadBalanceCapable`).
    Error9,
    /// StopCCN answering SCCRQ with `RedirectTarget` (the LAC says it in SCCRQ).
    TunnelLevel,
}

/// How the call ends once the echo is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The PPP client sends LCP Terminate-Request, which l2tpns 2.4.1 acknowledges without
    /// closing the session; 3 s later a RADIUS Disconnect-Request (RFC 5176) to l2tpns's DAE
    /// port makes it hang up with CDN; our LAC then closes the idle tunnel (StopCCN Result 1),
    /// which l2tpns acknowledges.
    Terminate,
    /// l2tpns shuts down (SIGQUIT): StopCCN Result 6 from it.
    Shutdown,
}

/// Control message name (with the Result Code) of a datagram, for the trace.
fn kind(data: &[u8]) -> String {
    let opts = ParseOptions {
        secret: Some(TUNNEL_SECRET.as_bytes()),
        ..Default::default()
    };
    match Message::parse_with(data, &opts) {
        Ok(Message::Control(c)) if c.is_zlb() => "ZLB".into(),
        Ok(Message::Control(c)) => match c.message_type() {
            Some(t) => match c.result_code() {
                Some(r) => format!(
                    "{t} result={} error={}",
                    r.result.0,
                    r.error_code().map_or(0, |e| e.0)
                ),
                None => t.to_string(),
            },
            None => "control?".into(),
        },
        Ok(Message::Data(_)) => "data".into(),
        Err(e) => format!("malformed {e}"),
    }
}

/// One call: what we saw, what the PPP client did.
struct Call {
    trace: Vec<String>,
    ppp: Client,
}

impl Call {
    fn text(&self) -> String {
        self.trace.join("\n")
    }

    /// The first line at or after `from` starting with `a` and containing `b`.
    fn find(&self, from: usize, a: &str, b: &str) -> Option<usize> {
        self.trace[from..]
            .iter()
            .position(|l| l.starts_with(a) && l.contains(b))
            .map(|p| p + from)
    }

    /// The lines appear in this order.
    fn assert_order(&self, steps: &[(&str, &str)], l2tpns_log: &str) {
        let mut at = 0;
        for (a, b) in steps {
            match self.find(at, a, b) {
                Some(p) => at = p,
                None => panic!(
                    "missing {a} {b} after line {at}:\n{}\n--- l2tpns:\n{l2tpns_log}",
                    self.text()
                ),
            }
        }
    }
}

/// The sockets and endpoints of one call.
struct Run<'w> {
    w: &'w World,
    contact_sock: UdpSocket,
    contact: Lns,
    lac_sock: UdpSocket,
    lac: Lac,
    call: Call,
    /// PPP log lines already in the trace.
    ppp_seen: usize,
    /// The PPP user name of this call (one a call: l2tpns keeps a closed session 15 s, and a
    /// Disconnect-Request names the user).
    user: String,
}

impl Run<'_> {
    fn log(&mut self, line: String) {
        self.sync_ppp();
        self.call.trace.push(line);
    }

    /// Copies the PPP client's new log lines into the trace, in order.
    fn sync_ppp(&mut self) {
        let new = &self.call.ppp.log[self.ppp_seen..];
        self.call.trace.extend(new.iter().cloned());
        self.ppp_seen = self.call.ppp.log.len();
    }

    /// Sends what both endpoints have queued.
    fn flush(&mut self) {
        while let Some(t) = self.contact.poll_transmit() {
            self.call
                .trace
                .push(format!("contact send {} {}", t.dst, kind(&t.payload)));
            let _ = self.contact_sock.send_to(&t.payload, t.dst);
        }
        while let Some(e) = self.contact.poll_event() {
            self.call.trace.push(format!("contact event {e:?}"));
        }
        while let Some(t) = self.lac.poll_transmit() {
            let k = kind(&t.payload);
            if k != "data" {
                self.call.trace.push(format!("send {} {k}", t.dst));
            }
            let _ = self.lac_sock.send_to(&t.payload, t.dst);
        }
    }

    /// Reads what arrived on both sockets (for at most `wait`) and runs the timers.
    fn step(&mut self, wait: Duration) {
        let mut buf = [0u8; 4096];
        let t0 = Instant::now();
        loop {
            let mut got = false;
            while let Ok((n, from)) = self.contact_sock.recv_from(&mut buf) {
                got = true;
                let local = self.contact_sock.local_addr().unwrap();
                self.log(format!("contact recv {from} {}", kind(&buf[..n])));
                if let Err(e) = self
                    .contact
                    .handle_datagram(Instant::now(), from, local, &buf[..n])
                {
                    self.log(format!("contact input error {e}"));
                }
            }
            while let Ok((n, from)) = self.lac_sock.recv_from(&mut buf) {
                got = true;
                let local = self.lac_sock.local_addr().unwrap();
                let k = kind(&buf[..n]);
                if k != "data" {
                    self.log(format!("recv {from} {k}"));
                }
                if let Err(e) = self
                    .lac
                    .handle_datagram(Instant::now(), from, local, &buf[..n])
                {
                    self.log(format!("input error {e}"));
                }
            }
            let now = Instant::now();
            if self.contact.poll_timeout().is_some_and(|d| d <= now) {
                self.contact.handle_timeout(now);
            }
            if self.lac.poll_timeout().is_some_and(|d| d <= now) {
                self.lac.handle_timeout(now);
            }
            self.flush();
            if got || t0.elapsed() >= wait {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// One call through the contact LNS, redirected to l2tpns in `form`, PPP with `auth`, ended by
/// `end`.
fn call(w: &World, form: Form, auth: Auth, end: End) -> Call {
    let contact_addr = SocketAddr::new(IpAddr::V4(w.host), 1701);
    let contact_sock = UdpSocket::bind(contact_addr).unwrap_or_else(|e| {
        panic!(
            "contact LNS cannot bind {contact_addr} ({e}): is a system l2tpns or xl2tpd on *:1701?"
        )
    });
    let lac_sock = UdpSocket::bind(SocketAddr::new(IpAddr::V4(w.host), 0)).unwrap();
    contact_sock.set_nonblocking(true).unwrap();
    lac_sock.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let seed = u64::from(std::process::id()) * 3 + form as u64;

    let mut cfg = LnsConfig::default();
    cfg.common.host_name = b"telcp-contact".to_vec();
    cfg.common.secret = Some(TUNNEL_SECRET.as_bytes().to_vec());
    cfg.common.challenge = true;
    cfg.common.hide_avps = true;
    cfg.common.seed = telcp::io::seed(seed);
    cfg.standard_redirect = form == Form::Error9;
    let mut contact = Lns::new(cfg, start).unwrap();
    assert!(
        contact
            .pool
            .update(IpAddr::V4(w.lns), MemberState::Up, 0, 1000, 0)
    );
    // The contact serves no call itself: every call goes to the pool.
    contact.set_load(100);

    let mut cfg = LacConfig::new(contact_addr);
    cfg.common.host_name = b"telcp-lac".to_vec();
    cfg.common.secret = Some(TUNNEL_SECRET.as_bytes().to_vec());
    cfg.common.challenge = true;
    cfg.common.hide_avps = true;
    cfg.common.seed = telcp::io::seed(seed + 1000);
    cfg.advertise_load_balance = form != Form::Error9;
    cfg.tunnel_level_request = form == Form::TunnelLevel;
    cfg.idle_tunnel_timeout = Some(Duration::from_secs(1));
    let lac = Lac::new(cfg, start).unwrap();

    let user = format!("{USER}-{}", form as u8);
    let mut r = Run {
        w,
        contact_sock,
        contact,
        lac_sock,
        lac,
        call: Call {
            trace: Vec::new(),
            ppp: Client::new(auth, &user, PASSWORD, 0x7e1c_0000 | form as u32),
        },
        ppp_seen: 0,
        user,
    };
    drive(&mut r, start, end);
    r.call
}

/// Runs the call to its end (or a 25 s deadline).
fn drive(r: &mut Run<'_>, start: Instant, end: End) {
    let lns = IpAddr::V4(r.w.lns);
    let call = r.lac.open_session(start).unwrap();
    r.flush();
    let deadline = start + Duration::from_secs(25);
    let mut up = false;
    let mut last_ppp = start;
    let mut echoes = 0u16;
    let mut ended = false;
    let mut finished_at = None;
    let mut terminated_at = None;
    let mut session_down = false;
    while Instant::now() < deadline {
        r.step(Duration::from_millis(20));
        let now = Instant::now();
        while let Some(e) = r.lac.poll_event() {
            r.log(format!("event {e:?}"));
            match e {
                Event::SessionUp {
                    call: Some(c),
                    peer,
                    ..
                } if c == call && peer.ip() == lns => {
                    up = true;
                    let frames = r.call.ppp.start();
                    send_ppp(r, call, frames);
                    last_ppp = now;
                }
                Event::SessionDown { call: Some(c), .. } if c == call => {
                    session_down = true;
                }
                Event::TunnelDown { peer, .. } if peer.ip() == lns => {
                    finished_at = Some(now);
                }
                _ => {}
            }
        }
        while let Some(d) = r.lac.poll_data() {
            let frames = r.call.ppp.handle(&d.frame);
            send_ppp(r, call, frames);
            r.sync_ppp();
        }
        if up && !ended && now.duration_since(last_ppp) >= Duration::from_secs(1) {
            last_ppp = now;
            let frames = r.call.ppp.retransmit();
            send_ppp(r, call, frames);
            // Ping (again, once a second, at most 5 times) while no reply came.
            if r.call.ppp.phase == Phase::Up && !r.call.ppp.echo_answered && echoes < 5 {
                echoes += 1;
                let f = r.call.ppp.echo_request(r.w.tun, 0x7e1c, echoes).unwrap();
                send_ppp(r, call, vec![f]);
            }
        }
        if r.call.ppp.phase == Phase::Up && echoes == 0 {
            echoes = 1;
            let f = r.call.ppp.echo_request(r.w.tun, 0x7e1c, echoes).unwrap();
            send_ppp(r, call, vec![f]);
        }
        if r.call.ppp.echo_answered && !ended {
            ended = true;
            match end {
                End::Terminate => {
                    let f = r.call.ppp.terminate();
                    send_ppp(r, call, vec![f]);
                    terminated_at = Some(now);
                }
                End::Shutdown => {
                    r.log("command SIGQUIT l2tpns".into());
                    World::signal(&r.w.l2tpns, "QUIT");
                }
            }
        }
        // l2tpns 2.4.1 answers Terminate-Request with Terminate-Ack but may keep the session:
        // then the operator's way, a RADIUS Disconnect-Request (RFC 5176) to its DAE port.
        if terminated_at.is_some_and(|t| now >= t + Duration::from_secs(3)) && !session_down {
            terminated_at = None;
            r.log("command RADIUS Disconnect-Request".into());
            let out = r.w.disconnect(&r.user, r.call.ppp.address());
            r.log(format!("radclient: {out}"));
        }
        // Done once the tunnel to l2tpns is down and the last acknowledgements had time.
        if finished_at.is_some_and(|t| now >= t + Duration::from_secs(2)) {
            break;
        }
    }
    r.sync_ppp();
}

fn send_ppp(r: &mut Run<'_>, call: telcp::l2tp::CallId, frames: Vec<Vec<u8>>) {
    r.sync_ppp();
    for f in frames {
        if let Err(e) = r.lac.send_ppp(call, &f) {
            r.log(format!("send_ppp error {e}"));
        }
    }
    r.flush();
}

/// The PPP side of a call reached an answered echo with an address from l2tpns's pool.
fn assert_ppp_up(w: &World, c: &Call, auth: Auth, log: &str) {
    let text = c.text();
    let ppp = &c.ppp;
    let addr = ppp
        .log
        .iter()
        .find_map(|l| l.strip_prefix("ppp state IPCP opened, address "))
        .and_then(|a| a.parse::<Ipv4Addr>().ok());
    let Some(addr) = addr else {
        panic!("IPCP never opened:\n{text}\n--- l2tpns:\n{log}")
    };
    // The address is one of l2tpns's pool (a /28 of ours), not 0.0.0.0.
    assert_eq!(addr.octets()[..3], w.pool.octets()[..3], "{text}");
    assert!(
        (1..16).contains(&addr.octets()[3]),
        "{addr} outside {}/28",
        w.pool
    );
    let want = match auth {
        Auth::Pap => common::ppp::PAP,
        Auth::Chap => common::ppp::CHAP,
    };
    assert_eq!(ppp.auth_used, Some(want), "{text}");
    assert!(
        ppp.echo_answered,
        "no echo reply:\n{text}\n--- l2tpns:\n{log}"
    );
    // Our LAC takes every message without an input error. (The contact LNS, which answered the
    // tunnel-level request statelessly, sees the LAC's acknowledgement of that StopCCN as a ZLB
    // for tunnel 0, which it drops as an unknown tunnel: the only contact error allowed.)
    assert!(
        !c.trace.iter().any(|l| l.starts_with("input error")),
        "{text}"
    );
    assert!(
        c.trace
            .iter()
            .filter(|l| l.starts_with("contact input error"))
            .all(|l| l == "contact input error unknown tunnel 0"),
        "{text}"
    );
    assert!(!text.contains("malformed"), "{text}");
    assert!(!text.contains("send_ppp error"), "{text}");
}

/// The redirect of `form` happened and the LAC followed it to l2tpns.
fn assert_redirected(w: &World, c: &Call, form: Form, log: &str) {
    let contact = format!("{}:1701", w.host);
    let lns = format!("{}:1701", w.lns);
    let first: &[(&str, &str)] = match form {
        Form::VendorAvp => &[
            ("recv", &format!("{contact} ICRP")),
            ("send", &format!("{contact} CDN result=3")),
        ],
        Form::Error9 => &[("recv", &format!("{contact} CDN result=2 error=9"))],
        Form::TunnelLevel => &[("recv", &format!("{contact} StopCCN result=2"))],
    };
    let mut steps = first.to_vec();
    let sccrq = format!("{lns} SCCRQ");
    let sccrp = format!("{lns} SCCRP");
    let scccn = format!("{lns} SCCCN");
    let icrq = format!("{lns} ICRQ");
    let icrp = format!("{lns} ICRP");
    let iccn = format!("{lns} ICCN");
    // The messages in order; the events (polled after each flush) in their own order.
    steps.extend_from_slice(&[
        ("send", sccrq.as_str()),
        ("recv", sccrp.as_str()),
        ("send", scccn.as_str()),
        ("send", icrq.as_str()),
        ("recv", icrp.as_str()),
        ("send", iccn.as_str()),
    ]);
    c.assert_order(&steps, log);
    let redirected = format!("from: {}, to: {} }}", w.host, w.lns);
    let up = format!("peer: {lns}, ");
    c.assert_order(
        &[
            ("event Redirected", redirected.as_str()),
            ("event TunnelUp", up.as_str()),
            ("event SessionUp", up.as_str()),
        ],
        log,
    );
    let vendor = matches!(form, Form::VendorAvp | Form::TunnelLevel);
    assert!(
        c.text()
            .contains(&format!("RedirectIssued {{ peer: {}", w.host))
            && c.text().contains(&format!("vendor_avp: {vendor} }}")),
        "{}",
        c.text()
    );
}

/// The RFC 1071 example (section 3): words 0001 f203 f4f5 f6f7 sum to ddf2, so the checksum the
/// ICMP echo and IPv4 header use is its complement, 220d.
#[test]
fn internet_checksum_known_answer() {
    let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(common::ppp::checksum(&words), 0x220d);
    let mut with = words.to_vec();
    with.extend_from_slice(&0x220du16.to_be_bytes());
    assert_eq!(common::ppp::checksum(&with), 0);
}

/// The three redirect forms each reach l2tpns; PPP comes up to an answered ICMP echo over each
/// (PAP once, CHAP twice, both through RADIUS); l2tpns's CDN (twice), its StopCCN and our
/// idle-tunnel close (twice) are each handled; tshark finds no malformed packet in the capture.
#[test]
fn l2tpns_lns_brings_ppp_up_behind_each_redirect_form() {
    if let Some(why) = skip_reason() {
        println!("skipped: {why}");
        return;
    }
    let t0 = Instant::now();
    let mut w = World::start();
    println!("l2tpns master after {:?}", t0.elapsed());
    let runs = [
        (Form::VendorAvp, Auth::Pap, End::Terminate),
        (Form::Error9, Auth::Chap, End::Terminate),
        (Form::TunnelLevel, Auth::Chap, End::Shutdown),
    ];
    let mut calls = Vec::new();
    for (form, auth, end) in runs {
        let c = call(&w, form, auth, end);
        let log = w.log("l2tpns.log");
        println!("--- {form:?} {auth:?} {end:?}:\n{}", c.text());
        assert_redirected(&w, &c, form, &log);
        assert_ppp_up(&w, &c, auth, &log);
        // l2tpns's side: the user logged in at the address our client got, IPCP opened.
        let user = format!("{USER}-{}", form as u8);
        let login = format!(
            "Login by {user} at {} from {}",
            c.ppp.assigned().unwrap(),
            w.host
        );
        assert!(log.contains(&login), "l2tpns log lacks {login:?}:\n{log}");
        assert_eq!(
            log.matches("IPCP: Opened, session is now active").count(),
            calls.len() + 1,
            "{log}"
        );
        let lns = format!("{}:1701", w.lns);
        let cdn = format!("{lns} CDN");
        let stop = format!("{lns} StopCCN result=1");
        let zlb = format!("{lns} ZLB");
        match end {
            // Our Terminate-Request, l2tpns's CDN, our StopCCN Result 1 acknowledged.
            End::Terminate => c.assert_order(
                &[
                    ("ppp send", "LCP Terminate-Request"),
                    ("recv", cdn.as_str()),
                    ("event SessionDown", "call: Some(CallId("),
                    ("send", stop.as_str()),
                    ("recv", zlb.as_str()),
                ],
                &log,
            ),
            // l2tpns shutting down sends StopCCN Result 6 (no CDN: RFC 2661 5.7, the StopCCN
            // clears every session of the tunnel); our LAC acknowledges it and reports both.
            End::Shutdown => c.assert_order(
                &[
                    ("command", "SIGQUIT"),
                    ("recv", format!("{lns} StopCCN result=6").as_str()),
                    ("send", zlb.as_str()),
                    ("event TunnelDown", "ResultCodeValue(6)"),
                    ("event SessionDown", "ResultCodeValue(6)"),
                ],
                &log,
            ),
        }
        calls.push(c);
    }
    let log = w.log("l2tpns.log");
    let shown: Vec<&str> = log
        .lines()
        .filter(|l| {
            [
                "New session",
                "authentication allowed",
                "Assigned",
                "Login by",
                "IPCP: Opened",
                "Shutting down",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .collect();
    println!("l2tpns:\n{}", shown.join("\n"));

    if let Some(pcap) = w.stop_capture() {
        check_capture(&pcap);
    }
    drop(w);
    println!("runtime {:?}", t0.elapsed());
}

/// tshark over the capture: L2TP both ways, the PPP negotiation and the echo inside the session,
/// no malformed packet.
fn check_capture(pcap: &Path) {
    if !common::have_tshark() {
        println!("tshark not found: capture not checked");
        return;
    }
    let tshark = |args: &[&str]| -> String {
        let o = Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let count = |filter: &str| tshark(&["-Y", filter]).lines().count();
    let malformed = tshark(&["-Y", "_ws.malformed"]);
    assert!(malformed.trim().is_empty(), "malformed:\n{malformed}");
    let errors = tshark(&["-Y", "l2tp && _ws.expert.severity >= 8388608"]);
    assert!(errors.trim().is_empty(), "tshark errors:\n{errors}");
    let l2tp = count("l2tp");
    let lcp = count("lcp");
    let ipcp = count("ipcp");
    let replies = count("icmp.type == 0");
    println!("capture: {l2tp} L2TP, {lcp} LCP, {ipcp} IPCP, {replies} echo replies");
    assert!(l2tp > 30 && lcp > 0 && ipcp > 0, "{l2tp} {lcp} {ipcp}");
    assert!(replies >= 3, "echo replies in the capture: {replies}");
}
