//! The runnable roles (`examples/{lac,lns,home-agent,gateway}.rs`, module `examples/roles/`),
//! each started in-process from its sample configuration (`examples/config/`) on loopback, doing
//! its job with another role or a peer of the crate: an L2TP session up between `lac` and `lns`
//! (RFC 2661 5.1), a call redirected by a contact `lns` to a pool `lns` and by a virtual-LNS
//! member to the other member; a Mobile IPv4 registration accepted by the `home-agent` cluster
//! through a foreign agent (RFC 5944 3.3); a Create PDP Context answered by the `gateway` (TS
//! 29.060 7.3.2), from the crate's SGSN and from a real sgsnemu (skipped when not installed); a
//! pool `lns` taking over a stopped member's tunnel and address, and a taker `lns` releasing the
//! address when it yields the tunnel back. Then: bad configurations refused with the key named,
//! and a role binary stopped by Ctrl-C (SIGINT) with its final stats.

#[path = "common/events.rs"]
mod events;
#[path = "../examples/roles/mod.rs"]
mod roles;
#[path = "common/sgsn.rs"]
mod sgsn;

use events::wait_for;
use roles::{Observer, RoleConfig, Running};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};
use telcp::Endpoint;
use telcp::driver::{self, DriverConfig};
use telcp::health::{NodeId, NodeState};
use telcp::l2tp;
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::{ClientConfig, ClientEvent, ForeignAgent, ForeignAgentConfig, MobileNodeClient};
use telcp::steering::line::LineEvent;
use telcp::steering::switch::SwitchEvent;
use tokio::sync::mpsc;

type Seen = mpsc::UnboundedReceiver<(String, telcp::Event)>;

/// A sample configuration, with `edits` (from, to) applied to its text first.
fn sample<C: RoleConfig>(name: &str, edits: &[(&str, &str)]) -> C {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/config")
        .join(name);
    let mut text = std::fs::read_to_string(&path).expect("sample configuration");
    for (from, to) in edits {
        assert!(text.contains(from), "{name} has no `{from}`");
        text = text.replace(from, to);
    }
    roles::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"))
}

async fn start<C: RoleConfig>(cfg: C) -> (Running, Seen) {
    log();
    let (tx, rx) = mpsc::unbounded_channel();
    let observer: Observer = Some(tx);
    let running = cfg.start(observer).await.unwrap_or_else(|e| panic!("{e}"));
    (running, rx)
}

#[tokio::test]
async fn lac_and_lns_from_their_samples_bring_a_session_up() {
    let (lns, _lns_seen) = start(sample::<roles::lns::Config>("lns.toml", &[])).await;
    let (lac, mut lac_seen) = start(sample::<roles::lac::Config>("lac.toml", &[])).await;
    let lns_addr: SocketAddr = "127.0.10.2:1701".parse().expect("address");
    let up = wait_for(&mut lac_seen, Duration::from_secs(5), |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::SessionUp {
            peer,
            call: Some(_),
            ..
        }) => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(up, Some(lns_addr));
    let stats = lns.parts[0].stats().await;
    assert!(stats.starts_with("sessions 1,"), "{stats}");
    // RFC 2661 5.3 / RFC 1661 5.8: the LAC's LCP Echo-Request goes in on its call
    // (`Commander::send_data`), reaches the LNS role's data handler, whose Echo-Reply goes back on
    // the session and reaches the LAC role's: one frame each way through the driver's data
    // channels, none dropped or refused.
    let mut lac_stats = String::new();
    for _ in 0..50 {
        lac_stats = lac.parts[0].stats().await;
        if lac_stats.contains("data_delivered: 1,") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lns_stats = lns.parts[0].stats().await;
    for (who, stats) in [("LAC", &lac_stats), ("LNS", &lns_stats)] {
        for want in [
            "data_delivered: 1,",
            "data_sent: 1,",
            "data_refused: 0",
            "data_dropped: 0,",
        ] {
            assert!(stats.contains(want), "{who}: no `{want}` in {stats}");
        }
    }
    lac.stop().await;
    lns.stop().await;
}

#[tokio::test]
async fn a_contact_lns_at_capacity_redirects_the_lac_to_its_pool_lns() {
    // The samples moved to 127.0.13.0/24; the contact is at capacity and knows the pool LNS.
    let moved = ("127.0.10.", "127.0.13.");
    let contact = sample::<roles::lns::Config>(
        "lns.toml",
        &[
            moved,
            ("load_percent = 0", "load_percent = 100"),
            (
                "# [cluster]\n# node = 100\n# key = \"pool heartbeat key\"\n# heartbeat_ms = 1000\n# peers",
                "[cluster]\nnode = 100\nkey = \"pool heartbeat key\"\nheartbeat_ms = 200\npeers",
            ),
        ],
    );
    let pool = sample::<roles::lns::Config>(
        "lns-pool.toml",
        &[moved, ("heartbeat_ms = 1000", "heartbeat_ms = 200")],
    );
    let (pool, _) = start(pool).await;
    let (contact, mut contact_seen) = start(contact).await;
    // Let the pool LNS's heartbeats reach the contact LNS.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (lac, mut lac_seen) = start(sample::<roles::lac::Config>("lac.toml", &[moved])).await;
    let pool_addr: SocketAddr = "127.0.13.3:1701".parse().expect("address");
    let mut redirected = None;
    let up = wait_for(&mut lac_seen, Duration::from_secs(10), |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::Redirected { to, .. }) => {
            redirected = Some(*to);
            None
        }
        telcp::Event::L2tp(l2tp::Event::SessionUp {
            peer,
            call: Some(_),
            ..
        }) => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(
        redirected,
        Some(pool_addr.ip()),
        "the LAC followed the redirect"
    );
    assert_eq!(up, Some(pool_addr), "the call is up at the pool LNS");
    let issued = wait_for(
        &mut contact_seen,
        Duration::from_secs(1),
        |(_, e)| match e {
            telcp::Event::L2tp(l2tp::Event::RedirectIssued { to, vendor_avp, .. }) => {
                Some((*to, *vendor_avp))
            }
            _ => None,
        },
    )
    .await;
    assert_eq!(
        issued,
        Some((pool_addr.ip(), true)),
        "vendor AVP form (LoadBalanceCapable LAC)"
    );
    lac.stop().await;
    contact.stop().await;
    pool.stop().await;
}

#[tokio::test]
async fn a_mobile_node_registers_with_the_home_agent_cluster_through_a_foreign_agent() {
    let (ha1, _) = start(sample::<roles::home_agent::Config>("home-agent.toml", &[])).await;
    let (ha2, _) = start(sample::<roles::home_agent::Config>(
        "home-agent-2.toml",
        &[],
    ))
    .await;
    let vha: SocketAddr = "127.0.11.100:434".parse().expect("address");
    let fa_addr: SocketAddr = "127.0.11.50:434".parse().expect("address");
    let fa_cfg = ForeignAgentConfig {
        home_agent: vha,
        fa_ha: None,
        max_pending: 64,
        pending_timeout: Duration::from_secs(10),
    };
    let fa = ForeignAgent::new(fa_cfg, driver::now()).expect("FA config");
    let (fa, _fa_events, _) = driver::spawn(fa, DriverConfig::new(vec![fa_addr]))
        .await
        .expect("bind the FA");
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    let mn_cfg = ClientConfig {
        home_address: Ipv4Addr::new(127, 0, 11, 201),
        nai: None,
        sa: SecurityAssociation::new(257, AuthAlgorithm::HmacMd5, b"mn-1 shared secret".to_vec()),
        home_agent: vha,
        local: "127.0.11.60:434".parse().expect("address"),
        via: Some(fa_addr),
        lifetime: 600,
        simultaneous: false,
        broadcast: false,
        retransmit: Duration::from_millis(300),
        max_retransmits: 8,
        wall_clock: wall,
        auto_reregister: false,
    };
    let mn = MobileNodeClient::new(mn_cfg.clone(), driver::now()).expect("client config");
    let (mn, mut mn_events, _) = driver::spawn(mn, DriverConfig::new(vec![mn_cfg.local]))
        .await
        .expect("bind the mobile node");
    // Let the members hear each other first.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    mn.call(|mn, now| mn.register(now)).await.expect("running");
    let answer = tokio::time::timeout(Duration::from_secs(5), mn_events.recv()).await;
    match answer.ok().flatten() {
        Some(ClientEvent::Registered {
            home_address,
            lifetime,
            ..
        }) => {
            assert_eq!(home_address, Ipv4Addr::new(127, 0, 11, 201));
            assert!(lifetime > 0 && lifetime <= 600, "{lifetime}");
        }
        other => panic!("registration not accepted: {other:?}"),
    }
    let fa = fa.shutdown().await.expect("FA stops");
    assert_eq!(
        fa.endpoint.stats().relayed_replies,
        1,
        "the reply came back through the FA"
    );
    let served = [ha1.parts[0].stats().await, ha2.parts[0].stats().await];
    assert!(
        served.iter().any(|s| s.starts_with("bindings served 1,")),
        "{served:?}"
    );
    mn.shutdown().await.expect("MN stops");
    ha1.stop().await;
    ha2.stop().await;
}

/// The SGSN of `tests/common/sgsn.rs` (a `telcp::Node`) as an `Endpoint` for the driver.
struct SgsnEndpoint(sgsn::Sgsn);

impl Endpoint for SgsnEndpoint {
    type Event = telcp::Event;
    type Error = telcp::Error;
    type Data = std::convert::Infallible;
    type Stats = usize;
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        telcp::Node::handle_datagram(&mut self.0, now, from, to, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        telcp::Node::handle_timeout(&mut self.0, now);
    }
    fn poll_transmit(&mut self) -> Option<telcp::Transmit> {
        telcp::Node::poll_transmit(&mut self.0)
    }
    fn poll_event(&mut self) -> Option<telcp::Event> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        telcp::Node::poll_timeout(&self.0)
    }
    fn stats(&self) -> usize {
        self.0.created()
    }
}

#[tokio::test]
async fn the_gateway_answers_a_create_pdp_context_request() {
    let (gw, mut seen) = start(sample::<roles::gateway::Config>("gateway.toml", &[])).await;
    assert!(
        gateway_ready(&mut seen).await,
        "both processors can take a set-up"
    );
    let sgsn_ip = Ipv4Addr::new(127, 0, 12, 100);
    let gtp_c: SocketAddr = "127.0.12.1:2123".parse().expect("address");
    let sgsn = SgsnEndpoint(sgsn::Sgsn::new(sgsn_ip, gtp_c));
    let bind = vec![
        SocketAddr::from((sgsn_ip, 2123)),
        SocketAddr::from((sgsn_ip, 2152)),
    ];
    let (sgsn, _, _) = driver::spawn(sgsn, DriverConfig::new(bind))
        .await
        .expect("bind the SGSN");
    sgsn.call(|s, now| s.0.create(now, "001010000000001", 5))
        .await
        .expect("running");
    let s = &sgsn;
    until(|| async move { s.stats().await == Ok(1) }).await;
    let sgsn = sgsn.shutdown().await.expect("SGSN stops");
    let s = &sgsn.endpoint.0.sessions[0];
    assert_eq!(sgsn.endpoint.0.created(), 1, "Create PDP Context accepted");
    assert_ne!(s.gw_teid_c, 0, "the gateway's control TEID");
    assert!(s.ue.is_some(), "an End User Address from the pool");
    gw.stop().await;
}

/// What loading `text` as a LAC configuration says.
fn lac_error(text: &str) -> String {
    match roles::parse::<roles::lac::Config>(text, Path::new("lac.toml")) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_bad_configuration_is_refused_with_its_key_named() {
    let good = "local = \"127.0.0.1:1701\"\ncontact_lns = \"127.0.0.2:1701\"\n";
    roles::parse::<roles::lac::Config>(good, Path::new("lac.toml")).expect("a good one loads");
    let e = lac_error("local = \"127.0.0.1:1701\"\ncontact_lns = \"nowhere\"\n");
    assert!(e.starts_with("lac.toml: key `contact_lns`:"), "{e}");
    assert!(e.contains("line 2"), "{e}");
    let e = lac_error(&format!("{good}calls = \"two\"\n"));
    assert!(e.starts_with("lac.toml: key `calls`:"), "{e}");
    let e = lac_error(&format!("{good}contact_lnz = 1\n"));
    assert!(e.contains("unknown field `contact_lnz`"), "{e}");
    let e = lac_error("local = \"127.0.0.1:1701\"\n");
    assert!(e.contains("missing field `contact_lns`"), "{e}");
    // Nested: the path runs through tables and arrays.
    let lns = "listen = \"127.0.0.2:1701\"\nmode = \"pool\"\n[cluster]\nnode = 1\nkey = \"pool heartbeat key\"\n\
               peers = [{ node = 2, addr = \"127.0.0.3:1701\" }, { node = 3, addr = \"x\" }]\n";
    let e = roles::parse::<roles::lns::Config>(lns, Path::new("lns.toml")).expect_err("bad addr");
    assert!(
        e.to_string()
            .starts_with("lns.toml: key `cluster.peers[1].addr`:"),
        "{e}"
    );
    let e = roles::parse::<roles::lns::Config>(
        "listen = \"127.0.0.2:1701\"\nmode = \"primary\"\n",
        Path::new("lns.toml"),
    )
    .expect_err("bad mode");
    assert!(e.to_string().starts_with("lns.toml: key `mode`:"), "{e}");
    let ha = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config/home-agent.toml"),
    )
    .expect("sample")
    .replace("127.0.11.0/24", "127.0.11.0/99");
    let e = roles::parse::<roles::home_agent::Config>(&ha, Path::new("ha.toml"))
        .expect_err("bad prefix");
    assert!(
        e.to_string().starts_with("ha.toml: key `virtual_network`:"),
        "{e}"
    );
    let e =
        roles::parse::<roles::lac::Config>("local = [", Path::new("lac.toml")).expect_err("syntax");
    assert!(e.to_string().starts_with("lac.toml: "), "{e}");
    // A virtual-LNS member with a cluster address apart: bound at start alone, the service
    // addresses (`listen`, the virtual address) after; a peer at its cluster address names its
    // service address (a member's entry in `members`), and the cluster address is not one.
    let member = |cluster: &str, service: &str| {
        let text = format!(
            "listen = \"127.0.0.2:1701\"\nmode = \"virtual\"\n[cluster]\nnode = 1\n\
             listen = \"{cluster}\"\nkey = \"virtual lns cluster key\"\n\
             peers = [{{ node = 2, addr = \"127.0.0.13:1701\"{service} }}]\n[virtual]\n\
             address = \"127.0.0.10\"\nmembers = [\"127.0.0.2\", \"127.0.0.3\"]\nme = 0\n"
        );
        roles::parse::<roles::lns::Config>(&text, Path::new("lns.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
            .build()
    };
    let addr = |s: &str| s.parse::<SocketAddr>().expect("address");
    let built = member("127.0.0.12:1701", ", service = \"127.0.0.3\"").expect("apart");
    assert_eq!(built.bind, [addr("127.0.0.12:1701")]);
    assert_eq!(
        built.service,
        [addr("127.0.0.2:1701"), addr("127.0.0.10:1701")]
    );
    let services = built.lns.membership.map(|m| m.services);
    assert_eq!(services, Some(vec![(NodeId(2), addr("127.0.0.3:1").ip())]));
    let e = member("127.0.0.12:1701", "").expect_err("no service");
    assert!(e.to_string().contains("cluster.peers[0]"), "{e}");
    let e = member("127.0.0.2:1701", ", service = \"127.0.0.3\"").expect_err("not apart");
    assert!(e.to_string().contains("cluster.listen"), "{e}");
}

#[test]
fn every_sample_configuration_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config");
    let mut n = 0;
    let mut secrets = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/config") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let r = match name.split(['.', '-']).next() {
            Some("lac") => roles::load::<roles::lac::Config>(&path).map(|c| format!("{c:?}")),
            Some("lns") => roles::load::<roles::lns::Config>(&path).map(|c| format!("{c:?}")),
            Some("home") => {
                roles::load::<roles::home_agent::Config>(&path).map(|c| format!("{c:?}"))
            }
            Some("gateway") => {
                roles::load::<roles::gateway::Config>(&path).map(|c| format!("{c:?}"))
            }
            _ => panic!("a sample for no role: {name}"),
        };
        let shown = r.unwrap_or_else(|e| panic!("{e}"));
        // No secret of the file (cluster keys, tunnel secrets, MN-HA and FA-HA keys) in the
        // loaded configuration's `Debug` output: a role that logs its configuration leaks none.
        let text = std::fs::read_to_string(&path).expect("sample");
        for line in text.lines().map(str::trim_start) {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if ["key", "secret", "cluster_key"].contains(&k.trim()) {
                let value = v
                    .split('#')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_matches('"');
                assert!(!value.is_empty(), "{name}: {line}");
                assert!(!shown.contains(value), "{name} shows `{value}`: {shown}");
                secrets += 1;
            }
        }
        n += 1;
    }
    assert_eq!(
        n, 6,
        "lac, lns, lns-pool, home-agent, home-agent-2, gateway"
    );
    assert!(secrets >= 7, "{secrets} secrets in the samples");
}

/// The example binary `name`, built beside this test by `cargo test` (which builds the examples).
fn example_binary(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join(name);
    path.exists().then_some(path)
}

#[test]
fn a_role_binary_logs_json_prints_stats_and_stops_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let Some(lns) = example_binary("lns") else {
        eprintln!("skipped: the lns example is not built (cargo test builds it)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("telcp-roles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config/lns.toml");
    let text = std::fs::read_to_string(sample)
        .expect("sample")
        .replace("127.0.10.", "127.0.14.")
        .replace("stats_interval_secs = 10", "stats_interval_secs = 1");
    let config = dir.join("lns.toml");
    std::fs::write(&config, text).expect("write the configuration");
    let mut child = Command::new(&lns)
        .arg("--config")
        .arg(&config)
        .arg("--json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the lns example");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let next = |lines: &mut Vec<String>, until: &str| {
        let end = Instant::now() + Duration::from_secs(5);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(until);
                    lines.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    };
    assert!(
        next(&mut lines, "\"stats\""),
        "a stats line within its interval: {lines:?}"
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    assert!(next(&mut lines, "final stats"), "{lines:?}");
    let code = child.wait().expect("the lns exits");
    assert!(code.success(), "{code:?}: {lines:?}");
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(l);
    }
    for l in &lines {
        assert!(
            l.starts_with('{') && l.ends_with('}'),
            "not a JSON line: {l}"
        );
    }
    // The socket is closed with the process.
    std::net::UdpSocket::bind("127.0.14.2:1701").expect("the LNS's address is free again");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_role_binary_refuses_a_bad_configuration_in_one_line_naming_the_key() {
    let Some(lac) = example_binary("lac") else {
        eprintln!("skipped: the lac example is not built (cargo test builds it)");
        return;
    };
    let path = std::env::temp_dir().join(format!("telcp-bad-lac-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "local = \"127.0.0.1:1701\"\ncontact_lns = \"nowhere:1701\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(lac)
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run the lac example");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("key `contact_lns`: invalid socket address syntax (line 2)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_virtual_lns_member_at_capacity_redirects_the_lac_to_the_other_member() {
    // Two members share 127.0.15.10; the first (rank 0, the contact) receives it and is at
    // capacity, the second has room: a call to the virtual address is redirected to the second.
    let member = |me: usize, node: u32, peer: u32, load: u8, bind: bool| {
        let own = ["127.0.15.2", "127.0.15.3"];
        format!(
            "listen = \"{}:1701\"\nmode = \"virtual\"\nload_percent = {load}\n\
             [cluster]\nnode = {node}\nkey = \"virtual lns cluster key\"\nheartbeat_ms = 200\n\
             peers = [{{ node = {peer}, addr = \"{}:1701\" }}]\n\
             [virtual]\naddress = \"127.0.15.10\"\nmembers = [\"127.0.15.2\", \"127.0.15.3\"]\n\
             me = {me}\nbind = {bind}\n",
            own[me],
            own[1 - me]
        )
    };
    let cfg = |text: String| -> roles::lns::Config {
        roles::parse(&text, Path::new("vlns.toml")).unwrap_or_else(|e| panic!("{e}"))
    };
    let (first, _) = start(cfg(member(0, 1, 2, 100, true))).await;
    let (second, _) = start(cfg(member(1, 2, 1, 10, false))).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let lac = sample::<roles::lac::Config>(
        "lac.toml",
        &[
            ("127.0.10.1:1701", "127.0.15.1:1701"),
            ("127.0.10.2:1701", "127.0.15.10:1701"),
        ],
    );
    let (lac, mut lac_seen) = start(lac).await;
    let mut redirected = None;
    let up = wait_for(&mut lac_seen, Duration::from_secs(10), |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::Redirected { from, to, .. }) => {
            redirected = Some((*from, *to));
            None
        }
        telcp::Event::L2tp(l2tp::Event::SessionUp {
            peer,
            call: Some(_),
            ..
        }) => Some(*peer),
        _ => None,
    })
    .await;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("address");
    assert_eq!(redirected, Some((ip("127.0.15.10"), ip("127.0.15.3"))));
    assert_eq!(up, Some("127.0.15.3:1701".parse().expect("address")));
    lac.stop().await;
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_real_sgsnemu_sets_up_a_pdp_context_through_the_gateway_role() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let present = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !present("sgsnemu") || !present("timeout") {
        println!("skipped: sgsnemu not found");
        return;
    }
    // Looked up before the gateway starts: a blocking child process on the runtime's thread
    // pauses the gateway's tasks too.
    let line_buffered = present("stdbuf");
    // The sample moved to 127.0.16.0/24 (the other gateway test uses the sample's addresses).
    // Heartbeats every second, not 200 ms: the switch processor gives no set-up to a processor
    // it has not heard for two intervals (Suspect), as after a pause of a starved machine.
    let edits = [
        ("127.0.12.", "127.0.16."),
        ("heartbeat_ms = 200", "heartbeat_ms = 1000"),
    ];
    let cfg = sample::<roles::gateway::Config>("gateway.toml", &edits);
    let (gw, mut seen) = start(cfg).await;
    assert!(
        gateway_ready(&mut seen).await,
        "both processors can take a set-up"
    );
    let dir = std::env::temp_dir().join(format!("telcp-roles-sgsnemu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let log_path = dir.join("sgsnemu.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    // sgsnemu ignores SIGTERM and runs until killed. The test kills it (`Killed`, also on a
    // panic) once it logged what the test wants; `timeout -s KILL` only ends it should the test
    // process itself be killed first.
    let mut cmd = Command::new("timeout");
    cmd.args(["-s", "KILL", "120"]);
    if line_buffered {
        // Line-buffered output, so nothing is lost when the KILL comes.
        cmd.args(["stdbuf", "-oL", "-eL"]);
    }
    let child = cmd
        .args(["sgsnemu", "-l", "127.0.16.200", "-r", "127.0.16.1"])
        .arg("--statedir")
        .arg(&dir)
        .arg("--pidfile")
        .arg(dir.join("sgsnemu.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        // A process group of its own, `timeout`'s and sgsnemu's: killed whole.
        .process_group(0)
        .spawn()
        .expect("spawn sgsnemu");
    let sgsnemu = Killed(child);
    let ue = wait_for(&mut seen, PATIENCE, |(_, e)| match e {
        telcp::Event::Processor(telcp::steering::ProcessorEvent::SessionCreated {
            ue_addr,
            ..
        }) => Some(*ue_addr),
        _ => None,
    })
    .await;
    // sgsnemu logs the End User Address of the Create PDP Context Response it got (TS 29.060
    // 7.3.2): it has done its part then.
    let text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    if let Some(ue) = ue {
        let logged = format!("IP address: {ue}");
        until(|| {
            let done = text().contains(&logged);
            async move { done }
        })
        .await;
    }
    drop(sgsnemu);
    let text = text();
    let _ = std::fs::remove_dir_all(&dir);
    let ue = ue.unwrap_or_else(|| panic!("no PDP context created; sgsnemu:\n{text}"));
    assert!(
        text.contains("Received create PDP context response"),
        "sgsnemu got our Create PDP Context Response:\n{text}"
    );
    assert!(
        text.contains(&format!("IP address: {ue}")),
        "sgsnemu logged the End User Address we assigned ({ue}):\n{text}"
    );
    gw.stop().await;
}

/// A child process group (`timeout` and the sgsnemu it runs), killed (SIGKILL) and reaped when
/// dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = std::process::Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to [`PATIENCE`] until the gateway role can serve a set-up: both processors of the
/// sample hold a VID (`SwitchEvent::VidAssigned`), the switch processor hears them Up
/// (`SwitchEvent::ProcessorUp`: their heartbeats, with their load), and the line interface
/// applied the switch processor's latest table (`LineEvent::TableApplied`), which names them.
/// Before the VIDs and heartbeats, the switch processor refuses a Create PDP Context itself,
/// with cause 199 "No resources available" (TS 29.060 7.7.1); before the table (pushed only
/// `rejoin_grace` after the start: the role's incarnation is the time), the line interface
/// does not trust the processor's answer and drops it.
async fn gateway_ready(seen: &mut Seen) -> bool {
    let (mut vids, mut up) = (Vec::new(), Vec::new());
    let mut pushed = None;
    let ready = wait_for(seen, PATIENCE, |(_, e)| {
        match e {
            telcp::Event::Switch(SwitchEvent::VidAssigned { processor, .. }) => {
                vids.push(*processor);
            }
            telcp::Event::Switch(SwitchEvent::ProcessorUp { processor }) => up.push(*processor),
            telcp::Event::Switch(SwitchEvent::ProcessorDown { processor }) => {
                up.retain(|p| p != processor);
            }
            telcp::Event::Switch(SwitchEvent::TablePushed { version }) => {
                pushed = pushed.max(Some(*version));
            }
            telcp::Event::Line(LineEvent::TableApplied { version }) => {
                // Judged on the line's events: the switch processor reports a change (a VID,
                // a processor Up) before the table it makes.
                let both = |v: &Vec<NodeId>| v.contains(&NodeId(11)) && v.contains(&NodeId(12));
                let newest = pushed.is_some_and(|p| *version >= p);
                return (both(&vids) && both(&up) && newest).then_some(());
            }
            _ => {}
        }
        None
    })
    .await;
    ready.is_some()
}

/// Issue 15 through the product roles: two pool LNS roles back each other up (`[replication]`);
/// a LAC holds a call with the first. The first stops (its task and sockets gone, no StopCCN,
/// as in a crash); the second takes its tunnel over (`Event::TakenOver`), binds the first's
/// address on its driver (`Commander::bind`), and the LAC's session goes on: an LCP
/// Echo-Request sent on the call after the takeover is answered (RFC 1661 5.8) from the
/// address the LAC knows, and the LAC never reports its tunnel down nor opens another.
#[tokio::test]
async fn a_pool_lns_role_takes_over_a_stopped_member_and_the_lac_session_goes_on() {
    pool_takeover(17, false).await;
}

/// The failed member's address is not free yet when the role takes over (its socket still open
/// on this host, or the network not moved it yet): the role's bind is refused, tried again, and
/// made once the address is free; the LAC's session goes on there.
#[tokio::test]
async fn a_pool_lns_role_binds_a_taken_address_once_it_is_freed() {
    pool_takeover(19, true).await;
}

/// Two pool members on `127.0.{net}.2` and `.3` back each other up; a LAC's call is up at the
/// first, which stops; the second takes over and answers the LAC's LCP echo on the same tunnel.
/// With `held`, the test holds the first's address from its stop until after the takeover.
async fn pool_takeover(net: u8, held: bool) {
    let member = |node: u32, peer: u32| {
        format!(
            "listen = \"127.0.{net}.{}:1701\"\nmode = \"pool\"\nseed = {node}\n\
             [cluster]\nnode = {node}\nkey = \"pool replication cluster key\"\nheartbeat_ms = 100\n\
             peers = [{{ node = {peer}, addr = \"127.0.{net}.{}:1701\" }}]\n\
             [replication]\nlinger_ms = 5\n",
            node + 1,
            peer + 1
        )
    };
    let cfg = |text: String| -> roles::lns::Config {
        roles::parse(&text, Path::new("pool.toml")).unwrap_or_else(|e| panic!("{e}"))
    };
    let (first, _) = start(cfg(member(1, 2))).await;
    let (second, mut second_seen) = start(cfg(member(2, 1))).await;
    // Heartbeats both ways: each sees the other Up and chooses it as its backup.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let first_addr = SocketAddr::from(([127, 0, net, 2], 1701));
    let mut lac_cfg = l2tp::LacConfig::new(first_addr);
    lac_cfg.common.seed = telcp::io::seed(7);
    let lac = l2tp::Lac::new(lac_cfg, driver::now()).expect("LAC config");
    let bind = DriverConfig::new(vec![SocketAddr::from(([127, 0, net, 1], 1701))]);
    let (lac, mut lac_events, mut lac_data) = driver::spawn(lac, bind).await.expect("bind");
    let call = lac
        .call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let up = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = lac_events.recv().await {
            if let l2tp::Event::SessionUp { peer, .. } = e {
                return Some(peer);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    assert_eq!(up, Some(first_addr), "the call is up at the first member");
    // The call's records reach the backup (the ICRP waited for the first; the ICCN's follows).
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.stop().await;
    let blocker = held.then(|| std::net::UdpSocket::bind(first_addr).expect("the first's address"));

    let taken = taken_over(&mut second_seen).await;
    assert_eq!(
        taken,
        Some((first_addr.ip(), 1, 1)),
        "one tunnel, one session"
    );

    if let Some(blocker) = blocker {
        // The role's bind was refused: nothing of ours answers at the address yet.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(blocker);
    }
    // LCP Echo-Request on the call, after the takeover: the second member answers it.
    assert_eq!(
        echo(&lac, call, &mut lac_data, None).await,
        Some(true),
        "the echo answered after the takeover: Echo-Reply on the call, same identifier"
    );
    assert_never_went_down(&mut lac_events);
    let stopped = lac.shutdown().await.expect("clean stop");
    assert_eq!(stopped.endpoint.tunnel_count(), 1, "no second tunnel");
    assert_eq!(stopped.endpoint.call_count(), 1);
    second.stop().await;
}

/// The LAC's `events` (drained) show neither its tunnel nor its session going down: the takeover
/// was invisible to it.
fn assert_never_went_down(events: &mut mpsc::Receiver<l2tp::Event>) {
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(
                e,
                l2tp::Event::TunnelDown { .. } | l2tp::Event::SessionDown { .. }
            ),
            "{e:?}"
        );
    }
}

/// Service address of pool member `n` on `127.0.{net}.*` whose cluster address is apart
/// ([`apart_cluster`]).
fn apart_service(net: u8, n: u32) -> SocketAddr {
    SocketAddr::from(([127, 0, net, 1 + n as u8], 1701))
}

/// Cluster address (`[cluster] listen`) of that member.
fn apart_cluster(net: u8, n: u32) -> SocketAddr {
    SocketAddr::from(([127, 0, net, 11 + n as u8], 1701))
}

/// The configuration of pool member `node` backed up by `peer`, its service address apart from
/// its cluster address, heartbeats every `heartbeat_ms`, a contact LNS (node 3, at `contact`)
/// among its peers when given.
fn apart_member(
    net: u8,
    node: u32,
    peer: u32,
    heartbeat_ms: u32,
    contact: Option<SocketAddr>,
) -> roles::lns::Config {
    let contact = contact
        .map(|c| format!(", {{ node = 3, addr = \"{c}\" }}"))
        .unwrap_or_default();
    let text = format!(
        "listen = \"{}\"\nmode = \"pool\"\nseed = {node}\n\
         [cluster]\nnode = {node}\nlisten = \"{}\"\nkey = \"pool replication cluster key\"\n\
         heartbeat_ms = {heartbeat_ms}\npeers = [{{ node = {peer}, addr = \"{}\" }}{contact}]\n\
         [replication]\nlinger_ms = 5\n",
        apart_service(net, node),
        apart_cluster(net, node),
        apart_cluster(net, peer)
    );
    roles::parse::<roles::lns::Config>(&text, Path::new("pool.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The contact LNS of [`apart_member`]'s members on `127.0.{net}.*`.
fn apart_contact_at(net: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, net, 30], 1701))
}

/// A contact LNS (node 3) at capacity (it redirects every call) at [`apart_contact_at`], with
/// pool members 1 and 2 of `127.0.{net}.*` as peers, each at its cluster address and known by
/// its service address; heartbeats every `heartbeat_ms`.
fn apart_contact(net: u8, heartbeat_ms: u32) -> roles::lns::Config {
    let text = format!(
        "listen = \"{}\"\nmode = \"contact\"\nseed = 3\nload_percent = 100\n\
         [cluster]\nnode = 3\nkey = \"pool replication cluster key\"\n\
         heartbeat_ms = {heartbeat_ms}\n\
         peers = [{{ node = 1, addr = \"{}\", service = \"{}\" }}, \
         {{ node = 2, addr = \"{}\", service = \"{}\" }}]\n",
        apart_contact_at(net),
        apart_cluster(net, 1),
        apart_service(net, 1).ip(),
        apart_cluster(net, 2),
        apart_service(net, 2).ip(),
    );
    roles::parse::<roles::lns::Config>(&text, Path::new("contact.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A LAC at `127.0.{net}.40` (RNG seed `seed`) places a call with the contact LNS at
/// [`apart_contact_at`]: where the contact redirected it (its `Event::RedirectIssued`), and
/// where the call came up. The LAC is stopped then (no StopCCN).
async fn redirected_call(
    net: u8,
    seed: u64,
    contact_seen: &mut Seen,
) -> (Option<std::net::IpAddr>, Option<SocketAddr>) {
    let mut cfg = l2tp::LacConfig::new(apart_contact_at(net));
    cfg.common.seed = telcp::io::seed(seed);
    let lac = l2tp::Lac::new(cfg, driver::now()).expect("LAC config");
    let bind = DriverConfig::new(vec![SocketAddr::from(([127, 0, net, 40], 1701))]);
    let (lac, mut events, _data) = driver::spawn(lac, bind).await.expect("bind");
    lac.call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let issued = wait_for(contact_seen, PATIENCE, |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::RedirectIssued { to, .. }) => Some(*to),
        _ => None,
    })
    .await;
    let up = wait_for(&mut events, PATIENCE, |e| match e {
        l2tp::Event::SessionUp { peer, .. } => Some(*peer),
        _ => None,
    })
    .await;
    let _ = lac.shutdown().await;
    (issued, up)
}

/// Issue 15 on one host, with each pool member's service address (`listen`, where the LAC
/// reaches it) apart from its cluster address (`[cluster] listen`: heartbeats, replication),
/// and a contact LNS at capacity that knows both members by their service addresses. The first
/// member serves a LAC's call at its service address and is killed (its driver and sockets
/// gone, no StopCCN). The second takes the call over (`Event::TakenOver`) and binds the first's
/// service address (logged "took over; address bound", and the OS refuses the test a socket
/// there); the LAC's LCP Echo-Request on the call is answered (RFC 1661 5.8, frames both ways).
/// The first is restarted from the same configuration: it comes up (on its cluster address;
/// its service address, held by the taker, refused and tried again), hears from the taker
/// which of its former incarnation's addresses it took (`Event::AddressTaken`, owner the
/// second) and gives its service address up until the owner releases it (logged "address
/// taken; bind tried again until the owner has released it", tried every second since); the
/// call still runs at the second (echo answered) and the LAC never saw its tunnel go down.
/// Meanwhile the restarted first takes no new call (its heartbeats report 100 %): a call to
/// the contact LNS is redirected to the second's service address, not to the first's, which
/// the second holds. Then the LAC closes its tunnel (StopCCN, RFC 2661 5.7); once the second
/// holds no tunnel at the first's service address (the closed tunnel's hold period over), it
/// releases it (logged "no tunnel left at the taken address; address released"), the first
/// binds it again (logged "service address bound", with its tries) and takes calls again, and
/// a new call of the LAC to that address is set up at the first. Fails with the taker's bind
/// refused (no echo), the restarted member keeping the address (no release), redirecting to
/// the restarted member (the call lands at the taker), the taker keeping the address, or the
/// first not binding it again.
#[tokio::test]
async fn a_restarted_pool_lns_role_gets_its_service_address_back_when_the_takers_call_ends() {
    log();
    let logs = logs();
    let service = |n| apart_service(20, n);
    let member = |node, peer| apart_member(20, node, peer, 100, Some(apart_contact_at(20)));
    let (first, _) = start(member(1, 2)).await;
    let (second, mut second_seen) = start(member(2, 1)).await;
    let (contact, mut contact_seen) = start(apart_contact(20, 100)).await;
    for n in [1, 2] {
        let at = service(n);
        let bound = || async move { logs.has("service address bound", at) };
        assert!(until(bound).await, "member {n} bound its service address");
    }
    // Heartbeats both ways: each sees the other Up and chooses it as its backup.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let mut lac_cfg = l2tp::LacConfig::new(service(1));
    lac_cfg.common.seed = telcp::io::seed(23);
    let lac = l2tp::Lac::new(lac_cfg, driver::now()).expect("LAC config");
    let bind = DriverConfig::new(vec![SocketAddr::from(([127, 0, 20, 1], 1701))]);
    let (lac, mut lac_events, mut lac_data) = driver::spawn(lac, bind).await.expect("bind");
    let call = lac
        .call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let up = wait_for(&mut lac_events, PATIENCE, |e| match e {
        l2tp::Event::SessionUp { peer, session, .. } => Some((*peer, session.tunnel)),
        _ => None,
    })
    .await;
    let Some((peer, tunnel)) = up else {
        panic!("no call up");
    };
    assert_eq!(
        peer,
        service(1),
        "the call is up at the first's service address"
    );
    // The call's records reach the backup.
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.stop().await;

    let taken = taken_over(&mut second_seen).await;
    assert_eq!(
        taken,
        Some((service(1).ip(), 1, 1)),
        "one tunnel, one session"
    );
    let logs_ref = logs;
    let bound = || async move { logs_ref.has("took over; address bound", service(1)) };
    assert!(
        until(bound).await,
        "the second bound the first's service address: {}",
        logs.lines_with("127.0.20.")
    );
    assert_eq!(
        std::net::UdpSocket::bind(service(1))
            .map_err(|e| e.kind())
            .err(),
        Some(std::io::ErrorKind::AddrInUse),
        "the first's service address is held (by the second)"
    );
    assert_eq!(
        echo(&lac, call, &mut lac_data, None).await,
        Some(true),
        "the echo answered after the takeover"
    );

    // The first, restarted from the same configuration, comes up (`start` panics otherwise).
    let (first, mut first_seen) = start(member(1, 2)).await;
    let refused = || async move {
        logs_ref.has(
            "service address not bound yet (held by another process: a member that took it over?), trying again",
            service(1),
        )
    };
    assert!(
        until(refused).await,
        "the restarted first finds its service address held"
    );
    let address_taken = wait_for(&mut first_seen, PATIENCE, |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::AddressTaken { addr, owner }) => Some((*addr, *owner)),
        _ => None,
    })
    .await;
    assert_eq!(
        address_taken,
        Some((service(1).ip(), NodeId(2))),
        "the second tells the restarted first it took its service address"
    );
    let given_up = || async move {
        logs_ref.has(
            "address taken; bind tried again until the owner has released it",
            service(1),
        )
    };
    assert!(
        until(given_up).await,
        "the restarted first gives its service address up"
    );
    // And tries it again every second (each refused bind is logged, at debug level), held by
    // the second all along.
    let tried = || logs.count("address not bound yet", service(1));
    let before = tried();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let since = tried() - before;
    assert!((1..=3).contains(&since), "{since} binds tried in 2.5 s");
    assert_eq!(
        echo(&lac, call, &mut lac_data, None).await,
        Some(true),
        "the call still runs"
    );
    let serving = [first.parts[0].stats().await, second.parts[0].stats().await];
    assert!(
        serving[0].starts_with("sessions 0,"),
        "the restarted first: {}",
        serving[0]
    );
    assert!(
        serving[1].starts_with("sessions 1,"),
        "the second: {}",
        serving[1]
    );
    assert_eq!(
        logs.count("service address bound", service(1)),
        1,
        "bound by the first incarnation only"
    );
    assert_never_went_down(&mut lac_events);
    assert_eq!(
        lac.call(|l, _| l.tunnel_count()).await,
        Ok(1),
        "no second tunnel"
    );

    // A call to the contact LNS (at capacity) is redirected to a member that holds its own
    // service address: the second, not the restarted first (idle, but not holding its own).
    assert_eq!(
        redirected_call(20, 31, &mut contact_seen).await,
        (Some(service(2).ip()), Some(service(2))),
        "redirected to the second, and up there"
    );

    // The LAC ends its tunnel: after its hold period (RFC 2661 5.7) the second has no tunnel
    // left at the first's service address and releases it; the first binds it again.
    let stop = l2tp::wire::ResultCode::new(l2tp::wire::ResultCodeValue::STOPCCN_GENERAL_REQUEST);
    lac.call(move |l, now| l.close_tunnel(now, tunnel, stop))
        .await
        .expect("running")
        .expect("the tunnel");
    let hold = Duration::from_secs(31);
    let released = || async move {
        logs_ref.has(
            "no tunnel left at the taken address; address released",
            service(1),
        )
    };
    assert!(
        until_within(hold + PATIENCE, released).await,
        "the second released the first's service address: {}",
        logs.lines_with("127.0.20.")
    );
    let back = || async move { logs_ref.count("service address bound", service(1)) == 2 };
    assert!(
        until(back).await,
        "the restarted first bound its service address again"
    );
    // A new call of the LAC to that address is set up at the first.
    lac.call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let up = wait_for(&mut lac_events, PATIENCE, |e| match e {
        l2tp::Event::SessionUp { peer, .. } => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(
        up,
        Some(service(1)),
        "the new call is up at the first's address"
    );
    let serving = first.parts[0].stats().await;
    assert!(serving.starts_with("sessions 1,"), "the first: {serving}");
    let _ = lac.shutdown().await;
    contact.stop().await;
    first.stop().await;
    second.stop().await;
}

/// The other order on one host: the first member, killed, is restarted at once (as by a
/// supervisor), before the second finds it Down, and binds its service address again, free
/// then. The second sees the restart (a higher incarnation: a restart is a crash), takes the
/// former incarnation's call over (`Event::TakenOver`) and cannot bind the address yet (held by
/// the restarted first; tried again); told so (`Event::AddressTaken`), the restarted first,
/// which serves no tunnel there, releases it (logged "address taken; address released"), the
/// second binds it, and the LAC's LCP Echo-Request on the call is answered (RFC 1661 5.8).
/// Having released its service address, the restarted first takes no new call: a contact
/// LNS at capacity redirects a call to the second, not to the idle first (whose address the
/// second holds). Then a LAC that sends its SCCRQs to the second's cluster address gets no tunnel there and
/// no answer: they are dropped and counted (`Stats::sccrqs_at_cluster_address`). Fails with
/// the restarted member keeping the address (no echo), or the cluster address serving LACs.
#[tokio::test]
async fn a_pool_lns_role_restarted_before_the_takeover_releases_its_service_address() {
    log();
    let logs = logs();
    let service = |n| apart_service(21, n);
    // Heartbeats every second: Down after 4 s of silence, longer than a restart takes.
    let member = |node, peer| apart_member(21, node, peer, 1000, Some(apart_contact_at(21)));
    let (first, _) = start(member(1, 2)).await;
    let (second, mut second_seen) = start(member(2, 1)).await;
    let (contact, mut contact_seen) = start(apart_contact(21, 1000)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut lac_cfg = l2tp::LacConfig::new(service(1));
    lac_cfg.common.seed = telcp::io::seed(29);
    let lac = l2tp::Lac::new(lac_cfg, driver::now()).expect("LAC config");
    let bind = DriverConfig::new(vec![SocketAddr::from(([127, 0, 21, 1], 1701))]);
    let (lac, mut lac_events, mut lac_data) = driver::spawn(lac, bind).await.expect("bind");
    let call = lac
        .call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let up = wait_for(&mut lac_events, PATIENCE, |e| match e {
        l2tp::Event::SessionUp { peer, .. } => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(up, Some(service(1)), "the call is up at the first");
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.stop().await;
    let (first, _) = start(member(1, 2)).await;
    let rebound = || async move { logs.count("service address bound", service(1)) == 2 };
    assert!(
        until(rebound).await,
        "the restarted first binds its service address"
    );

    let taken = taken_over(&mut second_seen).await;
    assert_eq!(
        taken,
        Some((service(1).ip(), 1, 1)),
        "one tunnel, one session"
    );
    assert_eq!(
        echo(&lac, call, &mut lac_data, None).await,
        Some(true),
        "the echo answered at the second: {}",
        logs.lines_with("127.0.21.")
    );
    let released = || async move { logs.has("address taken; address released", service(1)) };
    assert!(
        until(released).await,
        "the restarted first released its service address"
    );
    let bound = || async move { logs.has("took over; address bound", service(1)) };
    assert!(until(bound).await, "the second bound it");
    assert_never_went_down(&mut lac_events);
    let stopped = lac.shutdown().await.expect("clean stop");
    assert_eq!(stopped.endpoint.tunnel_count(), 1, "no second tunnel");
    // Having released it, the restarted first takes no new call: once its next heartbeat
    // (every second) has reached the contact LNS, a call there is redirected to the second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        redirected_call(21, 41, &mut contact_seen).await,
        (Some(service(2).ip()), Some(service(2))),
        "redirected to the second, and up there"
    );

    // A LAC sending to the second's cluster address gets no tunnel there: its SCCRQs (sent
    // again, RFC 2661 5.8) are dropped unanswered and counted.
    let mut lac_cfg = l2tp::LacConfig::new(apart_cluster(21, 2));
    lac_cfg.common.seed = telcp::io::seed(37);
    let lac = l2tp::Lac::new(lac_cfg, driver::now()).expect("LAC config");
    let bind = DriverConfig::new(vec![SocketAddr::from(([127, 0, 21, 40], 1701))]);
    let (lac, mut lac_events, _) = driver::spawn(lac, bind).await.expect("bind");
    lac.call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let answered = wait_for(&mut lac_events, Duration::from_secs(3), |e| match e {
        l2tp::Event::TunnelUp { .. } | l2tp::Event::TunnelDown { .. } => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(answered, None, "no tunnel, no StopCCN");
    let dropped = dropped_at_cluster(&second.parts[0].stats().await);
    assert!(
        dropped >= 2,
        "SCCRQs dropped at the cluster address: {dropped}"
    );
    let _ = lac.shutdown().await;
    contact.stop().await;
    first.stop().await;
    second.stop().await;
}

/// `sccrqs_at_cluster_address` in an `lns` part's stats line.
fn dropped_at_cluster(stats: &str) -> u64 {
    let key = "sccrqs_at_cluster_address: ";
    let at = stats.find(key).map_or(stats.len(), |i| i + key.len());
    let digits: String = stats[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// Log lines (JSON, one per line), for the assertions of a test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// How many lines say `message` with the field `at` = `addr`.
    fn count(&self, message: &str, addr: SocketAddr) -> usize {
        let text = self
            .0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let (message, at) = (
            format!("\"message\":\"{message}\""),
            format!("\"at\":\"{addr}\""),
        );
        text.unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&message) && l.contains(&at))
            .count()
    }

    /// The lines that contain `part` (an address of the test's), one per line.
    fn lines_with(&self, part: &str) -> String {
        let text = self
            .0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let text = text.unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(part)).collect();
        lines.join("\n")
    }

    /// Whether a line says `message` with the field `at` = `addr`.
    fn has(&self, message: &str, addr: SocketAddr) -> bool {
        self.count(message, addr) > 0
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The address goes back with the tunnel. Two virtual LNS members back each other up: the
/// first (built here from the role's configuration, on a driver of its own) serves a LAC's call
/// at the virtual address; the second is the `lns` role. The first stops (its state kept, as a
/// member cut off); the role takes the tunnel over and binds the virtual address
/// (`Event::TakenOver`). The first comes back (the same incarnation: a false Down, RFC 4951
/// section 1.1's failed endpoint that was not), yields its tunnel to the role, and later finds
/// the role Down in its turn (cut off again), so it takes the tunnel back from its copy; told so
/// when it hears the role again, the role yields (`Event::Yielded`, naming the virtual address)
/// and, with no tunnel of its own left there, releases it (`Commander::unbind`): the first binds
/// it again and serves the LAC's LCP Echo-Request (RFC 1661 section 5.8), on the same tunnel
/// and session (RFC 2661 section 5.8: the LAC never saw its tunnel go down). With the role
/// keeping the address, the first's bind fails and the echo never reaches it.
#[tokio::test]
async fn a_taker_lns_role_that_yields_releases_the_address_and_the_returning_member_serves() {
    let (first_own, second_own) = ("127.0.18.2:1701", "127.0.18.3:1701");
    let vip: SocketAddr = "127.0.18.10:1701".parse().expect("address");
    let member = |me: usize, node: u32, peer: u32, bind: bool| {
        let own = [first_own, second_own];
        format!(
            "listen = \"{}\"\nmode = \"virtual\"\nseed = {node}\n\
             [cluster]\nnode = {node}\nkey = \"virtual replication key\"\nheartbeat_ms = 100\n\
             peers = [{{ node = {peer}, addr = \"{}\" }}]\n\
             [virtual]\naddress = \"127.0.18.10\"\nmembers = [\"127.0.18.2\", \"127.0.18.3\"]\n\
             me = {me}\nbind = {bind}\n[replication]\nlinger_ms = 5\n",
            own[me],
            own[1 - me]
        )
    };
    let cfg = |text: String| -> roles::lns::Config {
        roles::parse(&text, Path::new("vlns.toml")).unwrap_or_else(|e| panic!("{e}"))
    };
    // The first member: the contact (rank 0), serving at the virtual address.
    let roles::lns::Built {
        lns: first_cfg,
        bind: first_bind,
        service,
        ..
    } = cfg(member(0, 1, 2, true)).build().expect("config");
    assert_eq!(first_bind, [first_own.parse().expect("address"), vip]);
    assert!(service.is_empty(), "no cluster address: all bound at start");
    let first = l2tp::Lns::new(first_cfg, driver::now()).expect("LNS config");
    let (first, _first_events, _) = driver::spawn(first, DriverConfig::new(first_bind))
        .await
        .expect("bind");
    let (second, mut second_seen) = start(cfg(member(1, 2, 1, false))).await;
    // The first replicates to the role once it hears it (Up).
    let f = &first;
    let hears = || async move {
        let state = f.call(|l, _| l.monitor().and_then(|m| m.state(NodeId(2))));
        state.await == Ok(Some(NodeState::Up))
    };
    assert!(until(hears).await, "the first hears the role");

    let mut lac_cfg = l2tp::LacConfig::new(vip);
    lac_cfg.common.seed = telcp::io::seed(11);
    let lac = l2tp::Lac::new(lac_cfg, driver::now()).expect("LAC config");
    let bind = DriverConfig::new(vec!["127.0.18.1:1701".parse().expect("address")]);
    let (lac, mut lac_events, mut lac_data) = driver::spawn(lac, bind).await.expect("bind");
    let call = lac
        .call(|lac, now| lac.open_session(now))
        .await
        .expect("running")
        .expect("a call");
    let up = wait_for(&mut lac_events, PATIENCE, |e| match e {
        l2tp::Event::SessionUp { peer, .. } => Some(*peer),
        _ => None,
    })
    .await;
    assert_eq!(up, Some(vip), "the call is up at the virtual address");
    // The first has the session (the LAC's ICCN processed), and its records reach the role
    // (which shows nothing of them before it takes over: its `TakenOver` below counts them).
    let f = &first;
    let serves = || async move { f.call(|l, _| l.session_count()).await == Ok(1) };
    assert!(until(serves).await, "the first serves the call");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Cut off: the first's sockets close, its state is kept.
    let first = first.shutdown().await.expect("clean stop").endpoint;
    let taken = taken_over(&mut second_seen).await;
    assert_eq!(
        taken,
        Some((vip.ip(), 1, 1)),
        "the role took the tunnel and its session over"
    );
    assert_eq!(
        echo(&lac, call, &mut lac_data, None).await,
        Some(true),
        "the role answers at the virtual address"
    );

    // The first comes back without the virtual address (the role holds it) and yields.
    let own = || vec![first_own.parse().expect("address")];
    let (first, mut first_events, _) = driver::spawn(first, DriverConfig::new(own()))
        .await
        .expect("bind");
    let yielded = wait_for(&mut first_events, PATIENCE, |e| match e {
        l2tp::Event::Yielded { owner, local, .. } => Some((*owner, *local)),
        _ => None,
    })
    .await;
    assert_eq!(yielded, Some((NodeId(2), Some(vip))), "the first yields");
    assert_eq!(echo(&lac, call, &mut lac_data, None).await, Some(true));
    // The role's copy (its tunnel and session) reaches the first, its backup; then the first
    // is cut off again, and comes back finding the role Down (silent for more than the 400 ms
    // of its `Down`, heard last before the cut): it takes the tunnel back.
    let f = &first;
    let holds = || async move { f.call(|l, _| l.held_for(NodeId(2))).await == Ok((1, 1)) };
    assert!(until(holds).await, "the first holds the role's copy");
    let first = first.shutdown().await.expect("clean stop").endpoint;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (first, mut first_events, mut first_data) = driver::spawn(first, DriverConfig::new(own()))
        .await
        .expect("bind");
    let back = wait_for(&mut first_events, PATIENCE, |e| match e {
        l2tp::Event::TakenOver {
            addr,
            tunnels,
            sessions,
            ..
        } => Some((*addr, tunnels.len(), sessions.len())),
        _ => None,
    })
    .await;
    assert_eq!(
        back,
        Some((vip.ip(), 1, 1)),
        "the first takes the tunnel and its session back"
    );
    // Told so when it hears the first again, the role yields and releases the address: the
    // first binds it (as the `lns` role would; retried while the role still holds it).
    let role_yielded = wait_for(&mut second_seen, PATIENCE, |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::Yielded { owner, local, .. }) => Some((*owner, *local)),
        _ => None,
    })
    .await;
    assert_eq!(
        role_yielded,
        Some((NodeId(1), Some(vip))),
        "the role yields"
    );
    let f = &first;
    let binds = || async move { f.bind(vip).await == Ok(vip) };
    assert!(until(binds).await, "the role released the virtual address");
    let answered = echo(&lac, call, &mut lac_data, Some((&first, &mut first_data))).await;
    if answered != Some(true) {
        let mut since = Vec::new();
        while let Ok(e) = first_events.try_recv() {
            since.push(format!("first: {e:?}"));
        }
        while let Ok((_, e)) = second_seen.try_recv() {
            since.push(format!("role: {e:?}"));
        }
        let state = first
            .call(|l, _| {
                let (t, s, held) = (l.tunnel_count(), l.session_count(), l.held_for(NodeId(2)));
                format!(
                    "tunnels {t}, sessions {s}, held for the role {held:?}, {:?}",
                    l.stats()
                )
            })
            .await;
        let driver = first.driver_stats().await;
        panic!(
            "the first serves the LAC's session again: {answered:?}; the first: {state:?}, \
             driver {driver:?}; events since:\n{}",
            since.join("\n")
        );
    }
    assert_never_went_down(&mut lac_events);
    let stopped = lac.shutdown().await.expect("clean stop");
    assert_eq!(stopped.endpoint.tunnel_count(), 1, "no second tunnel");
    let _ = first.shutdown().await;
    second.stop().await;
}

/// Sends the LAC's LCP Echo-Request (RFC 1661 section 5.8) on `call` until an answer comes back
/// (again every 0.5 s at most, for up to 10 s): `Some(true)` when it is an Echo-Reply with the
/// same identifier. With `member`, the request must reach that LNS (its data channel), which
/// answers it as the `lns` role does.
async fn echo(
    lac: &driver::Handle<l2tp::Lac>,
    call: l2tp::CallId,
    lac_data: &mut mpsc::Receiver<l2tp::Data>,
    mut member: Option<(&driver::Handle<l2tp::Lns>, &mut mpsc::Receiver<l2tp::Data>)>,
) -> Option<bool> {
    const ECHO: [u8; 12] = [0xff, 0x03, 0xc0, 0x21, 0x09, 0x07, 0x00, 0x08, 0, 0, 0, 0];
    let within = Duration::from_millis(250);
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        lac.send_data(call, ECHO).await.expect("running");
        if let Some((lns, data)) = member.as_mut() {
            let Ok(Some(d)) = tokio::time::timeout(within, data.recv()).await else {
                continue;
            };
            let mut reply = d.frame.to_vec();
            reply[4] = 0x0a;
            lns.send_data(d.session, reply).await.expect("running");
        }
        if let Ok(Some(d)) = tokio::time::timeout(within, lac_data.recv()).await {
            return Some(d.call == Some(call) && d.frame[2..6] == [0xc0, 0x21, 0x0a, 0x07]);
        }
    }
    None
}

/// The first `Event::TakenOver` a role reports within [`PATIENCE`]: the address taken, how
/// many tunnels and sessions.
async fn taken_over(seen: &mut Seen) -> Option<(std::net::IpAddr, usize, usize)> {
    wait_for(seen, PATIENCE, |(_, e)| match e {
        telcp::Event::L2tp(l2tp::Event::TakenOver {
            addr,
            tunnels,
            sessions,
            ..
        }) => Some((*addr, tunnels.len(), sessions.len())),
        _ => None,
    })
    .await
}

/// The roles' and the drivers' logs as JSON lines (`info` and above, the `lns` role's `debug`
/// too, or as `RUST_LOG` says:
/// `RUST_LOG=debug cargo test --all-features --test roles`), kept in [`logs`] for the tests
/// that assert on them and in each test's captured output (shown when it fails). One
/// subscriber for the whole test binary: a thread's own (`tracing::subscriber::set_default`)
/// missed lines while other tests ran on other threads.
fn log() {
    use tracing_subscriber::fmt::{TestWriter, writer::MakeWriterExt};
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,roles::roles::lns=debug"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(logs().clone().and(TestWriter::new()))
        .try_init();
}

/// The log lines of every role of this test binary ([`log`]); a test tells its own by the
/// addresses it uses.
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(Captured::default)
}

/// Every role's incarnation grows on a restart (health's heartbeats: a higher incarnation is a
/// restart, `telcp::health::Monitor` docs; a lower or equal one is refused as a replay). A
/// supervisor may restart a role within the same second, so two roles started one right after
/// the other, as a restart does, get two different numbers, the later one higher. The Unix
/// second the roles used before gave both the same number: the restarted member's heartbeats
/// were refused (its sequence numbers start again) and its peers saw it Down until they passed
/// the old ones (session 47, helper A's finding).
#[tokio::test]
async fn a_role_restarted_within_a_second_gets_a_higher_incarnation() {
    let first = roles::incarnation().await;
    let restarted = roles::incarnation().await;
    assert!(restarted > first, "{first} then {restarted}");
}

/// How long a real-time test waits for what it expects: ample on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// Checks `holds` every 50 ms until it is true, for up to [`PATIENCE`]; whether it came true.
async fn until<F: Future<Output = bool>>(holds: impl FnMut() -> F) -> bool {
    until_within(PATIENCE, holds).await
}

/// [`until`], for up to `patience`.
async fn until_within<F: Future<Output = bool>>(
    patience: Duration,
    mut holds: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if holds().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
