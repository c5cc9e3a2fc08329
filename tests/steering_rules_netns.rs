//! The tc rules `steering::rules` emits really steer (issue 17 item 6): a network namespace holds
//! the line's ingress device (`line0`, the peer of a veth whose other end stays in this
//! namespace) and one veth pair per processor (`p<vid>` -> `p<vid>r`); the rules are installed
//! on `line0`'s ingress with `tc`; G-PDUs, GTPv1-C requests, GTPv2-C and PFCP messages with
//! and without TEID / SEID, datagrams to other ports, a fragmented G-PDU and downlink packets to
//! UE addresses are sent from this process over the veth; the packets each processor's veth receives (`rx_packets` of `p<vid>r`) are counted and
//! compared with [`VidTable::steer`]'s decisions (GTPv2-C and PFCP: its decision for a G-PDU
//! with the same TEID, as the line interface will steer them; downlink: the UE prefixes' VIDs).
//! Then a table update (a VID goes Down) is applied with only the diff's lines, and the same
//! traffic is counted again against the new table.
//!
//! IPv6 downlink: the rules of the IPv6 pool's slices (`match ip6 dst` at the next priority, and
//! flower `protocol ipv6`) steer IPv6 packets to UE addresses as [`VidTable::steer_downlink`]
//! does, counted the same way.
//!
//! Skipped, with a message, where `ip netns` or `tc` is missing or the process is not root.
//! A kernel without `cls_flower` skips only the flower part.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;
use telcp::steering::fabric::{TableEntry, VidState};
use telcp::steering::gtp::{Message, MessageType};
use telcp::steering::line::VidTable;
use telcp::steering::rules::{RuleSet, Target, Tc, UePrefix};
use telcp::steering::ue_pool::UePool;
use telcp::steering::{Verdict, VidLayout, VirtualId};

const VIDS: [u16; 3] = [1, 2, 3];

/// A UE prefix inside the test's /24: first address's last octet, length, VID, backup VID.
type Range = (u8, u8, u16, Option<u16>);

/// Runs a command; its stdout, or what went wrong.
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespace and the veth end left in this one; both removed on drop.
struct Net {
    ns: String,
    host_if: String,
    k: u8,
    /// Whether the host side speaks IPv6 (the namespace never does: its devices stay silent).
    v6: bool,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.host_if]);
        let _ = run("ip", &["netns", "del", &self.ns]);
    }
}

impl Net {
    fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut a = vec!["-n", self.ns.as_str()];
        a.extend_from_slice(args);
        run("ip", &a)
    }

    /// Runs one rendered `tc ...` line inside the namespace.
    fn tc(&self, line: &str) -> Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"tc"), "{line}");
        let mut a = vec!["-n", self.ns.as_str()];
        a.extend_from_slice(&words[1..]);
        run("tc", &a)
    }

    fn gw(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.k, 2)
    }

    fn ue(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 201, self.k, last)
    }

    fn host6(&self) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0x198, 0x18, u16::from(self.k), 0, 0, 0, 1)
    }

    fn gw6(&self) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0x198, 0x18, u16::from(self.k), 0, 0, 0, 2)
    }

    /// The IPv6 UE pool, a /48.
    fn pool6(&self) -> String {
        format!("fd00:201:{:x}::/48", self.k)
    }

    fn up(&self) -> Result<(), String> {
        let (ns, h) = (self.ns.as_str(), self.host_if.as_str());
        let k = format!("{:02x}", self.k);
        run("ip", &["netns", "add", ns])?;
        run(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        )?;
        let (hmac, lmac) = (format!("02:7c:00:00:{k}:01"), format!("02:7c:00:00:{k}:02"));
        run(
            "ip",
            &[
                "link", "add", h, "address", &hmac, "type", "veth", "peer", "name", "line0",
                "address", &lmac, "netns", ns,
            ],
        )?;
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{h}/disable_ipv6"), "1");
        let host = format!("198.18.{}.1/24", self.k);
        run("ip", &["addr", "add", &host, "dev", h])?;
        run("ip", &["link", "set", h, "up"])?;
        let gw = self.gw().to_string();
        run(
            "ip",
            &[
                "neigh",
                "replace",
                &gw,
                "lladdr",
                &lmac,
                "dev",
                h,
                "nud",
                "permanent",
            ],
        )?;
        let pool = format!("10.201.{}.0/24", self.k);
        run("ip", &["route", "add", &pool, "via", &gw, "dev", h])?;
        if self.v6 {
            std::fs::write(format!("/proc/sys/net/ipv6/conf/{h}/disable_ipv6"), "0")
                .map_err(|e| format!("enable IPv6 on {h}: {e}"))?;
            let host6 = format!("{}/64", self.host6());
            run("ip", &["-6", "addr", "add", &host6, "dev", h, "nodad"])?;
            let gw6 = self.gw6().to_string();
            run(
                "ip",
                &[
                    "-6",
                    "neigh",
                    "replace",
                    &gw6,
                    "lladdr",
                    &lmac,
                    "dev",
                    h,
                    "nud",
                    "permanent",
                ],
            )?;
            run(
                "ip",
                &["-6", "route", "add", &self.pool6(), "via", &gw6, "dev", h],
            )?;
        }
        self.ip(&["link", "set", "lo", "up"])?;
        self.ip(&["link", "set", "line0", "up"])?;
        for v in VIDS {
            let (p, r) = (format!("p{v}"), format!("p{v}r"));
            self.ip(&["link", "add", &p, "type", "veth", "peer", "name", &r])?;
            self.ip(&["link", "set", &p, "up"])?;
            self.ip(&["link", "set", &r, "up"])?;
        }
        Ok(())
    }

    /// Packets received by each processor's veth so far.
    fn arrivals(&self) -> Result<[u64; 3], String> {
        let mut out = [0; 3];
        for (i, v) in VIDS.iter().enumerate() {
            let path = format!("/sys/class/net/p{v}r/statistics/rx_packets");
            let s = run("ip", &["netns", "exec", &self.ns, "cat", &path])?;
            out[i] = s.trim().parse().map_err(|e| format!("{path}: {e}"))?;
        }
        Ok(out)
    }
}

fn vid(n: u16) -> VirtualId {
    VirtualId::new(n).unwrap()
}

fn proc_addr(v: u16) -> SocketAddr {
    SocketAddr::from(([172, 16, 1, v as u8], 4000))
}

fn table(version: u64, down: &[u16]) -> VidTable {
    let entries: Vec<TableEntry> = VIDS
        .iter()
        .map(|&v| TableEntry {
            vid: vid(v),
            state: if down.contains(&v) {
                VidState::Down
            } else {
                VidState::Up
            },
            addr: proc_addr(v),
        })
        .collect();
    VidTable::with_entries(VidLayout::default(), None, version, &entries)
}

/// One datagram to send: destination, UDP payload, and the processor (index in `VIDS`) it
/// must reach, if any.
struct Datagram {
    to: SocketAddr,
    payload: Vec<u8>,
    expect: Option<usize>,
}

fn index(v: VirtualId) -> Option<usize> {
    VIDS.iter().position(|&x| x == v.get())
}

/// The traffic, with the processors `table` sends each datagram to.
fn traffic(net: &Net, table: &VidTable, prefixes: &[Range]) -> Vec<Datagram> {
    let layout = VidLayout::default();
    let steered = |payload: &[u8]| match table.steer(payload) {
        Verdict::Processor { vid, .. } => index(vid),
        _ => None,
    };
    let mut out = Vec::new();
    let gw = |port| SocketAddr::from((net.gw(), port));
    // Every primary and backup field from 0 (none) to 4 (not in the table).
    for p in 0..=4u32 {
        for b in 0..=4u32 {
            let teid = (p << 24) | (b << 16) | (p * 5 + b);
            let g = Message::g_pdu(teid, &b"\x45user packet"[..])
                .to_vec()
                .unwrap();
            out.push(Datagram {
                to: gw(2152),
                expect: steered(&g),
                payload: g.clone(),
            });
            // Not a GTP port: never steered by the rules.
            out.push(Datagram {
                to: gw(3386),
                payload: g,
                expect: None,
            });
            let c = Message::new(MessageType::UPDATE_PDP_CONTEXT_REQUEST, teid, 7, vec![])
                .to_vec()
                .unwrap();
            out.push(Datagram {
                to: gw(2123),
                expect: steered(&c),
                payload: c,
            });
            out.extend(v2_and_pfcp(net, teid, steered(&g_pdu_of(teid))));
        }
    }
    // TEID 0: a set-up request for the switch processor, not steered.
    let echo = Message::new(MessageType::ECHO_REQUEST, 0, 1, vec![])
        .to_vec()
        .unwrap();
    assert_eq!(table.steer(&echo), Verdict::Switch);
    out.push(Datagram {
        to: gw(2123),
        payload: echo,
        expect: None,
    });
    // A G-PDU too large for the link's MTU leaves in fragments: the host reassembles it.
    let teid = layout.compose(vid(2), Some(vid(3)), 9).unwrap();
    out.push(Datagram {
        to: gw(2152),
        payload: Message::g_pdu(teid, vec![0x45; 3000]).to_vec().unwrap(),
        expect: None,
    });
    out.extend(downlink(net, table, prefixes));
    out
}

fn g_pdu_of(teid: u32) -> Vec<u8> {
    Message::g_pdu(teid, &b"\x45"[..]).to_vec().unwrap()
}

/// GTPv2-C (TS 29.274 section 5.1) and PFCP (TS 29.244 section 7.2.2) datagrams whose octets 4
/// to 7 are `teid`: with the T / S flag they carry it as TEID / SEID and go where a G-PDU with
/// that TEID goes (`expect`); without, those octets are a sequence number and nothing steers
/// them.
fn v2_and_pfcp(net: &Net, teid: u32, expect: Option<usize>) -> Vec<Datagram> {
    let t = teid.to_be_bytes();
    let gw = |port| SocketAddr::from((net.gw(), port));
    // Modify Bearer Request (34) with a TEID; Echo Request (1) without (sequence, spare).
    let v2_teid = [&[0x48, 34, 0, 8][..], &t, &[0, 0, 1, 0]].concat();
    let v2_echo = [&[0x40, 1, 0, 4][..], &t].concat();
    // Session Modification Request (52) with the SEID's high word; Heartbeat Request (1).
    let pfcp_session = [&[0x21, 52, 0, 12][..], &t, &[0, 0, 0, 9, 0, 0, 1, 0]].concat();
    let pfcp_node = [&[0x20, 1, 0, 4][..], &t].concat();
    vec![
        Datagram {
            to: gw(2123),
            payload: v2_teid,
            expect,
        },
        Datagram {
            to: gw(2123),
            payload: v2_echo,
            expect: None,
        },
        Datagram {
            to: gw(8805),
            payload: pfcp_session,
            expect,
        },
        Datagram {
            to: gw(8805),
            payload: pfcp_node,
            expect: None,
        },
    ]
}

/// Downlink packets: to the UE prefix's VID if Up, else its backup if Up, else the host.
fn downlink(net: &Net, table: &VidTable, prefixes: &[Range]) -> Vec<Datagram> {
    let mut out = Vec::new();
    let up = |v: u16| table.state(vid(v)) == Some(VidState::Up);
    for last in [5u8, 70, 130, 250] {
        let expect = prefixes
            .iter()
            .filter(|(start, len, _, _)| {
                let size = 1u16 << (32 - len);
                u16::from(last) >= u16::from(*start) && u16::from(last) < u16::from(*start) + size
            })
            .max_by_key(|(_, len, _, _)| *len)
            .and_then(|&(_, _, v, backup)| {
                if up(v) {
                    Some(v)
                } else {
                    backup.filter(|b| up(*b))
                }
            })
            .and_then(|v| index(vid(v)));
        out.push(Datagram {
            to: SocketAddr::from((net.ue(last), 5000)),
            payload: b"downlink".to_vec(),
            expect,
        });
    }
    out
}

/// Sends the traffic and checks each processor's arrivals (and, with `all_busy`, that every
/// processor gets some).
fn send_and_count(
    net: &Net,
    traffic: &[Datagram],
    phase: &str,
    all_busy: bool,
) -> Result<(), String> {
    let sock = UdpSocket::bind((Ipv4Addr::new(198, 18, net.k, 1), 0)).map_err(|e| e.to_string())?;
    let sock6 = if net.v6 {
        Some(UdpSocket::bind((net.host6(), 0)).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let before = net.arrivals()?;
    for d in traffic {
        let s = match (d.to, &sock6) {
            (SocketAddr::V6(_), Some(s6)) => s6,
            _ => &sock,
        };
        s.send_to(&d.payload, d.to)
            .map_err(|e| format!("send to {}: {e}", d.to))?;
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = net.arrivals()?;
    let mut expected = [0u64; 3];
    for d in traffic {
        if let Some(i) = d.expect {
            expected[i] += 1;
        }
    }
    let got: Vec<u64> = (0..3).map(|i| after[i] - before[i]).collect();
    eprintln!("{phase}: arrivals per processor {got:?}, steer() says {expected:?}");
    assert_eq!(got, expected, "{phase}");
    if all_busy {
        assert!(
            expected.iter().all(|&n| n > 0),
            "{phase}: every processor gets traffic"
        );
    }
    Ok(())
}

fn usable() -> Result<(), String> {
    run("ip", &["-V"])?;
    run("tc", &["-V"])?;
    let uid = run("id", &["-u"])?;
    if uid.trim() != "0" {
        return Err("not root".into());
    }
    Ok(())
}

#[test]
fn emitted_tc_rules_steer_like_steer() {
    if let Err(why) = usable() {
        eprintln!("skipped: tc rules are not exercised here ({why})");
        return;
    }
    let pid = std::process::id();
    let net = Net {
        ns: format!("telcp-rules-{pid}"),
        host_if: format!("trl{}", pid % 1_000_000),
        k: u8::try_from(20 + pid % 200).unwrap(),
        v6: false,
    };
    if let Err(why) = net.up() {
        eprintln!("skipped: cannot build the namespace ({why})");
        return;
    }
    // UE prefixes: .0/24 -> VID 1, inside it .64/26 -> VID 2 and .128/25 -> VID 3 backed up
    // by VID 1.
    let ranges: [Range; 3] = [(0, 24, 1, None), (64, 26, 2, None), (128, 25, 3, Some(1))];
    let prefixes: Vec<UePrefix> = ranges
        .iter()
        .map(|&(start, len, v, backup)| UePrefix {
            prefix: format!("{}/{len}", net.ue(start)).parse().unwrap(),
            vid: vid(v),
            backup: backup.map(vid),
        })
        .collect();
    let layout = VidLayout::default();
    let targets = [
        Target::gtp_u(layout),
        Target::gtpv1_c(layout),
        Target::gtpv2_c(layout),
        Target::pfcp(layout),
    ];
    let tc = VIDS.iter().fold(Tc::new("line0", 10), |t, &v| {
        t.with_egress(proc_addr(v), &format!("p{v}"))
    });

    let t1 = table(1, &[]);
    let set1 = RuleSet::new(&t1, &targets, &prefixes).unwrap();
    net.tc(&tc.qdisc().unwrap()).unwrap();
    for line in tc.install(&set1).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&net, &t1, &ranges), "all up", true).unwrap();

    // VID 3 goes down: its TEIDs steer on their backup field, its prefix to VID 1.
    let t2 = table(2, &[3]);
    let set2 = RuleSet::new(&t2, &targets, &prefixes).unwrap();
    let update = tc.update(&set1, &set2).unwrap();
    assert!(update.len() < tc.install(&set2).unwrap().len());
    assert!(update.iter().any(|l| l.starts_with("tc filter replace")));
    for line in &update {
        net.tc(line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&net, &t2, &ranges), "VID 3 down", false).unwrap();

    // VID 2 down too: TEIDs naming 2 or 3 as primary fail over to backup 1 only; prefix
    // .64/26 has no backup: it goes to the host, not to the covering .0/24's VID 1.
    let t3 = table(3, &[2, 3]);
    let set3 = RuleSet::new(&t3, &targets, &prefixes).unwrap();
    for line in tc.update(&set2, &set3).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    let traffic3 = traffic(&net, &t3, &ranges);
    send_and_count(&net, &traffic3, "VIDs 2 and 3 down", false).unwrap();

    // Back to all up, from scratch: teardown, install.
    for line in tc
        .teardown()
        .unwrap()
        .iter()
        .chain(&tc.install(&set1).unwrap())
    {
        net.tc(line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&net, &t1, &ranges), "reinstalled", true).unwrap();

    flower(&net, &tc, &set1, &t1, &ranges);
}

/// The downlink rules as flower filters, where the kernel has `cls_flower`.
fn flower(net: &Net, tc: &Tc, set: &RuleSet, table: &VidTable, ranges: &[Range]) {
    net.tc(&tc.teardown().unwrap()[0]).unwrap();
    let lines = tc.flower_downlink(set, 20).unwrap();
    if let Err(why) = net.tc(&lines[0]) {
        eprintln!("skipped: flower rules not exercised ({why})");
        return;
    }
    for line in &lines[1..] {
        net.tc(line).unwrap_or_else(|e| panic!("{e}"));
    }
    let downlink: Vec<Datagram> = traffic(net, table, ranges)
        .into_iter()
        .filter(|d| d.to.port() == 5000)
        .collect();
    send_and_count(net, &downlink, "flower downlink", false).unwrap();
}

/// The downlink rules built from the UE pool's (VID, backup VID) slices
/// ([`UePool::rule_prefixes`], issue 17 item 4) really steer: with a 2-bit VID layout the test's
/// /24 is the pool (VID fields in bits 7-4, the local part in bits 3-0); a packet to every
/// primary and backup field from 0 to 3 reaches the processor [`VidTable::steer_downlink`]
/// names, before and after VIDs go down (applied with only the diff's lines).
#[test]
fn slice_rules_steer_downlink_like_steer_downlink() {
    if let Err(why) = usable() {
        eprintln!("skipped: tc rules are not exercised here ({why})");
        return;
    }
    let pid = std::process::id();
    let net = Net {
        ns: format!("telcp-slices-{pid}"),
        host_if: format!("tsl{}", pid % 1_000_000),
        k: u8::try_from(20 + (pid + 100) % 200).unwrap(),
        v6: false,
    };
    if let Err(why) = net.up() {
        eprintln!("skipped: cannot build the namespace ({why})");
        return;
    }
    let layout = VidLayout::teid32(2, 2).unwrap();
    let pool = UePool::new(&layout, format!("{}/24", net.ue(0)).parse().unwrap(), None).unwrap();
    assert_eq!(pool.local_bits(), 4);
    let table = |version, down: &[u16]| {
        let entries: Vec<TableEntry> = VIDS
            .iter()
            .map(|&v| TableEntry {
                vid: vid(v),
                state: if down.contains(&v) {
                    VidState::Down
                } else {
                    VidState::Up
                },
                addr: proc_addr(v),
            })
            .collect();
        VidTable::with_entries(layout, None, version, &entries).with_ue_pool(Some(pool))
    };
    let traffic = |t: &VidTable| -> Vec<Datagram> {
        let mut out = Vec::new();
        for p in 0..=3u8 {
            for b in 0..=3u8 {
                let ue = net.ue(p << 6 | b << 4 | ((p * 4 + b) % 15 + 1));
                let expect = match t.steer_downlink(&ipv4_header_to(ue)) {
                    Verdict::Processor { vid, .. } => index(vid),
                    _ => None,
                };
                out.push(Datagram {
                    to: SocketAddr::from((ue, 5000)),
                    payload: b"downlink".to_vec(),
                    expect,
                });
            }
        }
        out
    };
    let tc = VIDS.iter().fold(Tc::new("line0", 10), |t, &v| {
        t.with_egress(proc_addr(v), &format!("p{v}"))
    });
    let t1 = table(1, &[]);
    let set1 = RuleSet::new(&t1, &[], &pool.rule_prefixes(&t1)).unwrap();
    net.tc(&tc.qdisc().unwrap()).unwrap();
    for line in tc.install(&set1).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&t1), "slices, all up", true).unwrap();
    let t2 = table(2, &[3]);
    let set2 = RuleSet::new(&t2, &[], &pool.rule_prefixes(&t2)).unwrap();
    for line in tc.update(&set1, &set2).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&t2), "slices, VID 3 down", false).unwrap();
    let t3 = table(3, &[2, 3]);
    let set3 = RuleSet::new(&t3, &[], &pool.rule_prefixes(&t3)).unwrap();
    for line in tc.update(&set2, &set3).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&t3), "slices, VIDs 2 and 3 down", false).unwrap();
}

/// The first 20 octets of an IPv4 header to `dst` (all `steer_downlink` reads).
fn ipv4_header_to(dst: Ipv4Addr) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1];
    h.extend_from_slice(&dst.octets());
    h
}

/// The first 40 octets of an IPv6 header to `dst` (all `steer_downlink` reads).
fn ipv6_header_to(dst: Ipv6Addr) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    h.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    h.extend_from_slice(&dst.octets());
    h
}

/// IPv6 downlink (RFC 8200 section 3: the destination address at octets 24 to 39): the rules of
/// the IPv6 pool's (VID, backup VID) slices ([`UePool::rule_prefixes`]), as tc `u32` `match ip6
/// dst` filters at the next priority and then as flower `protocol ipv6` filters, steer a packet
/// to every primary and backup field from 0 to 3 (and one outside the pool) to the processor
/// [`VidTable::steer_downlink`] names, before and after VIDs go down (applied with only the
/// diff's lines); IPv4 packets to the IPv4 pool are sent alongside and counted too.
#[test]
fn ipv6_slice_rules_steer_downlink_like_steer_downlink() {
    if let Err(why) = usable() {
        eprintln!("skipped: tc rules are not exercised here ({why})");
        return;
    }
    let pid = std::process::id();
    let net = Net {
        ns: format!("telcp-six-{pid}"),
        host_if: format!("tsx{}", pid % 1_000_000),
        k: u8::try_from(20 + (pid + 50) % 200).unwrap(),
        v6: true,
    };
    if let Err(why) = net.up() {
        eprintln!("skipped: cannot build the namespace ({why})");
        return;
    }
    let layout = VidLayout::teid32(2, 2).unwrap();
    let pool = UePool::new(
        &layout,
        format!("{}/24", net.ue(0)).parse().unwrap(),
        Some(net.pool6().parse().unwrap()),
    )
    .unwrap();
    let table = |version, down: &[u16]| {
        let entries: Vec<TableEntry> = VIDS
            .iter()
            .map(|&v| TableEntry {
                vid: vid(v),
                state: if down.contains(&v) {
                    VidState::Down
                } else {
                    VidState::Up
                },
                addr: proc_addr(v),
            })
            .collect();
        VidTable::with_entries(layout, None, version, &entries).with_ue_pool(Some(pool))
    };
    // The /48's top 64 bits: VID fields in bits 15-12 (primary 15-14, backup 13-12), the local
    // part in bits 3-0 (TS 29.061 / 23.401: one /64 per session, here interface identifier 9).
    let top = (u128::from(pool.v6().unwrap().network()) >> 64) as u64;
    let traffic = |t: &VidTable| -> Vec<Datagram> {
        let mut out = Vec::new();
        for p in 0..=3u64 {
            for b in 0..=3u64 {
                let key = top | p << 14 | b << 12 | ((p * 4 + b) % 15 + 1);
                let ue = Ipv6Addr::from(u128::from(key) << 64 | 9);
                let expect = match t.steer_downlink(&ipv6_header_to(ue)) {
                    Verdict::Processor { vid, .. } => index(vid),
                    _ => None,
                };
                out.push(Datagram {
                    to: SocketAddr::from((ue, 5000)),
                    payload: b"downlink6".to_vec(),
                    expect,
                });
                let ue4 = net.ue((p as u8) << 6 | (b as u8) << 4 | 1);
                let expect = match t.steer_downlink(&ipv4_header_to(ue4)) {
                    Verdict::Processor { vid, .. } => index(vid),
                    _ => None,
                };
                out.push(Datagram {
                    to: SocketAddr::from((ue4, 5000)),
                    payload: b"downlink".to_vec(),
                    expect,
                });
            }
        }
        // In the routed /48 but outside the pool's VID slices: the host.
        let stray = Ipv6Addr::from(u128::from(top | 0x0800) << 64 | 9);
        assert!(!matches!(
            t.steer_downlink(&ipv6_header_to(stray)),
            Verdict::Processor { .. }
        ));
        out.push(Datagram {
            to: SocketAddr::from((stray, 5000)),
            payload: b"stray".to_vec(),
            expect: None,
        });
        out
    };
    let tc = VIDS.iter().fold(Tc::new("line0", 10), |t, &v| {
        t.with_egress(proc_addr(v), &format!("p{v}"))
    });
    let t1 = table(1, &[]);
    let set1 = RuleSet::new(&t1, &[], &pool.rule_prefixes(&t1)).unwrap();
    assert!(set1.has_downlink_v6());
    net.tc(&tc.qdisc().unwrap()).unwrap();
    for line in tc.install(&set1).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    let n6 = traffic(&t1)
        .iter()
        .filter(|d| d.to.is_ipv6() && d.expect.is_some())
        .count();
    assert!(n6 >= 9, "IPv6 packets steered to processors: {n6}");
    send_and_count(&net, &traffic(&t1), "IPv6 slices, all up", true).unwrap();
    let t2 = table(2, &[3]);
    let set2 = RuleSet::new(&t2, &[], &pool.rule_prefixes(&t2)).unwrap();
    let update = tc.update(&set1, &set2).unwrap();
    assert!(
        update.iter().any(|l| l.contains("protocol ipv6")),
        "{update:#?}"
    );
    for line in &update {
        net.tc(line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&t2), "IPv6 slices, VID 3 down", false).unwrap();
    let t3 = table(3, &[2, 3]);
    let set3 = RuleSet::new(&t3, &[], &pool.rule_prefixes(&t3)).unwrap();
    for line in tc.update(&set2, &set3).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&t3), "IPv6 slices, VIDs 2 and 3 down", false).unwrap();

    // The same rules as flower filters, where the kernel has cls_flower.
    for line in tc.teardown_set(&set3).unwrap() {
        net.tc(&line).unwrap_or_else(|e| panic!("{e}"));
    }
    let lines = tc.flower_downlink(&set1, 20).unwrap();
    if let Err(why) = net.tc(&lines[0]) {
        eprintln!("skipped: flower rules not exercised ({why})");
        return;
    }
    for line in &lines[1..] {
        net.tc(line).unwrap_or_else(|e| panic!("{e}"));
    }
    send_and_count(&net, &traffic(&t1), "IPv6 slices, flower", true).unwrap();
}
