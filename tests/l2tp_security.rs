//! Security faults of the L2TP endpoints found by an independent reading of RFC 2661 (issue 12):
//! hidden values leaving in clear, HELLO despite traffic, authenticator compares that are not
//! constant-time, and unbounded answers to spoofed requests.
#![cfg(feature = "proptest")]

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telcp::l2tp::wire::avp::AvpValue;
use telcp::l2tp::wire::{
    Avp, AvpType, ControlMessage, Message, MessageType, ParseOptions, hidden,
};
use telcp::l2tp::{CallId, Config, Event, Lac, LacConfig, Lns, LnsConfig, SessionRef};

/// The one place the tests of this file set the RNG seed.
fn common(seed: u64) -> Config {
    Config {
        seed,
        ..Config::default()
    }
}

fn lns_cfg(seed: u64) -> LnsConfig {
    LnsConfig {
        common: common(seed),
        ..LnsConfig::default()
    }
}

fn lac_cfg(seed: u64) -> LacConfig {
    let mut c = LacConfig::new(lns_addr());
    c.common = common(seed);
    c
}

fn lac_addr() -> SocketAddr {
    "192.0.2.10:1701".parse().unwrap()
}

fn lns_addr() -> SocketAddr {
    "192.0.2.1:1701".parse().unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The SCCRQ of the set-up: Assigned Tunnel ID 0x5001, Host Name "lac".
const SCCRQ: &str = "c80200490000000000000000800800000000000180080000000201008009000000076c6163800a00000003000000038008000000095001800a000000040000000080080000000a0008";

/// Hands every datagram to the other side at `now` until both are quiet.
fn exchange(now: Instant, lac: &mut Lac, lns: &mut Lns) {
    loop {
        let mut moved = false;
        while let Some(t) = lac.poll_transmit() {
            let _ = lns.handle_datagram(now, lac_addr(), lns_addr(), &t.payload);
            moved = true;
        }
        while let Some(t) = lns.poll_transmit() {
            let _ = lac.handle_datagram(now, lns_addr(), lac_addr(), &t.payload);
            moved = true;
        }
        if !moved {
            break;
        }
    }
}

/// A LAC and an LNS with one established session: (lac, lns, the call, the LNS's session).
fn session_up(t0: Instant) -> (Lac, Lns, CallId, SessionRef) {
    let mut lac = Lac::new(lac_cfg(0), t0).unwrap();
    let mut lns = Lns::new(lns_cfg(0), t0).unwrap();
    let call = lac.open_session(t0).unwrap();
    exchange(t0, &mut lac, &mut lns);
    assert!(lac.session_of(call).is_some());
    let sref = std::iter::from_fn(|| lns.poll_event())
        .find_map(|e| match e {
            Event::SessionUp { session, .. } => Some(session),
            _ => None,
        })
        .unwrap();
    while lac.poll_event().is_some() {}
    (lac, lns, call, sref)
}

fn is_hello(payload: &[u8]) -> bool {
    Message::parse(payload).is_ok_and(|m| m.message_type() == Some(MessageType::HELLO))
}

/// Fires every timer of `n` due up to `now`, in order.
fn run_timers(n: &mut dyn telcp::io::Node, now: Instant) {
    while let Some(d) = n.poll_timeout() {
        if d > now {
            break;
        }
        n.handle_timeout(d);
    }
}

/// Issue 12 fault 5 (RFC 2661 5.5 and 6.5, keepalive): a HELLO is due only when `hello_interval`
/// (60 s) passes with nothing received on the tunnel. The LAC sends a data message every 10 s for
/// five minutes: the LNS must send no HELLO.
#[test]
fn fault_05_lns_sends_no_hello_while_data_arrives() {
    let t0 = Instant::now();
    let (mut lac, mut lns, call, _) = session_up(t0);
    let mut hellos = 0;
    for i in 1..=30u32 {
        let now = t0 + Duration::from_secs(10) * i;
        lac.send_ppp(call, b"\xff\x03\x00\x21").unwrap();
        while let Some(t) = lac.poll_transmit() {
            let _ = lns.handle_datagram(now, lac_addr(), lns_addr(), &t.payload);
        }
        run_timers(&mut lns, now);
        hellos += std::iter::from_fn(|| lns.poll_transmit())
            .filter(|t| is_hello(&t.payload))
            .count();
    }
    assert_eq!(hellos, 0, "HELLO sent although data arrived every 10 s");
}

/// Issue 12 fault 5 (RFC 2661 5.5 / 6.5): the LAC side of the same rule: the LNS sends a data
/// message every 10 s, the LAC must send no HELLO.
#[test]
fn fault_05_lac_sends_no_hello_while_data_arrives() {
    let t0 = Instant::now();
    let (mut lac, mut lns, _, sref) = session_up(t0);
    let mut hellos = 0;
    for i in 1..=30u32 {
        let now = t0 + Duration::from_secs(10) * i;
        lns.send_ppp(sref, b"\xff\x03\x00\x21").unwrap();
        while let Some(t) = lns.poll_transmit() {
            let _ = lac.handle_datagram(now, lns_addr(), lac_addr(), &t.payload);
        }
        run_timers(&mut lac, now);
        hellos += std::iter::from_fn(|| lac.poll_transmit())
            .filter(|t| is_hello(&t.payload))
            .count();
    }
    assert_eq!(hellos, 0, "HELLO sent although data arrived every 10 s");
}

/// Issue 12 fault 5 (RFC 2661 5.5 / 6.5): ZLB acknowledgements are messages received on the
/// tunnel too. The LNS sends a Set-Link-Info every 10 s; the LAC's ZLBs acknowledging them are
/// all the LNS receives: it must send no HELLO (and neither must the LAC, which receives SLIs).
#[test]
fn fault_05_zlbs_count_as_received() {
    let t0 = Instant::now();
    let (mut lac, mut lns, _, sref) = session_up(t0);
    let mut hellos = 0;
    for i in 1..=30u32 {
        let now = t0 + Duration::from_secs(10) * i;
        lns.send_sli(now, sref, 0, 0).unwrap();
        run_timers(&mut lns, now);
        run_timers(&mut lac, now);
        loop {
            let mut moved = false;
            while let Some(t) = lns.poll_transmit() {
                hellos += usize::from(is_hello(&t.payload));
                let _ = lac.handle_datagram(now, lns_addr(), lac_addr(), &t.payload);
                moved = true;
            }
            while let Some(t) = lac.poll_transmit() {
                hellos += usize::from(is_hello(&t.payload));
                let m = Message::parse(&t.payload).unwrap();
                assert!(
                    matches!(&m, Message::Control(c) if c.is_zlb()),
                    "only ZLBs from the LAC"
                );
                let _ = lns.handle_datagram(now, lac_addr(), lns_addr(), &t.payload);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
    assert_eq!(hellos, 0, "HELLO sent although ZLBs arrived every 10 s");
}

/// Issue 12 fault 5, the other half of RFC 2661 5.5: with nothing received for `hello_interval`,
/// the HELLO does go out (so the fix above cannot be "never send HELLO").
#[test]
fn fault_05_hello_after_silence() {
    let t0 = Instant::now();
    let (_lac, mut lns, _, _) = session_up(t0);
    let interval = Config::default().hello_interval;
    run_timers(&mut lns, t0 + interval - Duration::from_millis(1));
    assert!(!std::iter::from_fn(|| lns.poll_transmit()).any(|t| is_hello(&t.payload)));
    run_timers(&mut lns, t0 + interval);
    assert!(std::iter::from_fn(|| lns.poll_transmit()).any(|t| is_hello(&t.payload)));
}

// ---------------------------------------------------------------------------------------------
// Fault 7: authenticator compares.

/// Segments of an identifier that name an authenticator-like value.
const SECRET_WORDS: &[&str] = &[
    "authenticator",
    "response",
    "digest",
    "hmac",
    "tag",
    "signature",
    "challenge",
];

/// Identifiers that contain a secret word but name no authenticator. (A bare `mac` is not a
/// secret word: in this crate it names Ethernet addresses, `MacAddr`; message authentication codes
/// are `hmac`, `tag` or `authenticator`.)
const NOT_SECRET: &[&str] = &["tag_len", "tagged"];

fn identifiers(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_'))
        .map(str::to_owned)
        .collect()
}

/// Splits snake_case and CamelCase into lower-case segments.
fn segments(ident: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in ident.split('_') {
        let mut cur = String::new();
        for c in part.chars() {
            if c.is_ascii_uppercase() && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c.to_ascii_lowercase());
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

fn names_secret(operand: &str) -> bool {
    identifiers(operand).iter().any(|id| {
        let lower = id.to_ascii_lowercase();
        !NOT_SECRET.iter().any(|n| lower.contains(n))
            && segments(id)
                .iter()
                .any(|s| SECRET_WORDS.contains(&s.as_str()))
    })
}

/// The operand text left of byte `at` (back to the enclosing bracket, `&&`, `||`, `,`, `;`, an
/// assignment or the start of the line) and right of byte `end` (forward likewise).
fn operands(line: &str, at: usize, end: usize) -> (String, String) {
    let b = line.as_bytes();
    let mut depth = 0i32;
    let mut i = at;
    while i > 0 {
        let c = b[i - 1];
        match c {
            b')' | b']' => depth += 1,
            b'(' | b'[' | b'{' if depth == 0 => break,
            b'(' | b'[' => depth -= 1,
            b',' | b';' if depth == 0 => break,
            b'&' | b'|' if depth == 0 && i >= 2 && b[i - 2] == c => break,
            b'=' if depth == 0 && (i < 2 || !b"=!<>".contains(&b[i - 2])) => break,
            _ => {}
        }
        i -= 1;
    }
    let left = line[i..at].to_owned();
    let mut depth = 0i32;
    let mut j = end;
    while j < b.len() {
        let c = b[j];
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' => depth -= 1,
            b'{' | b',' | b';' if depth == 0 => break,
            b'&' | b'|' if depth == 0 && b.get(j + 1) == Some(&c) => break,
            _ => {}
        }
        j += 1;
    }
    (left, line[end..j].to_owned())
}

/// Every `==`, `!=` or `.eq(` in `src` (comments excluded) with an operand named like an
/// authenticator, and every authenticator check done with a MAC library's own `verify_*` instead
/// of the crate's one constant-time helper.
fn authenticator_compares(src: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            continue;
        }
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split("//").next().unwrap_or("");
            let mut hits = Vec::new();
            for op in ["==", "!="] {
                let mut from = 0;
                while let Some(k) = line[from..].find(op) {
                    let at = from + k;
                    hits.push((at, at + 2));
                    from = at + 2;
                }
            }
            let mut from = 0;
            while let Some(k) = line[from..].find(".eq(") {
                let at = from + k;
                hits.push((at, at + 4));
                from = at + 4;
            }
            let flagged = hits.iter().any(|&(at, end)| {
                let (l, r) = operands(line, at, end);
                names_secret(&l) || names_secret(&r)
            }) || line.contains("verify_slice(")
                || line.contains("verify_truncated_left(")
                || line.contains("verify_truncated_right(");
            if flagged {
                found.push(format!("{}:{}: {}", p.display(), n + 1, raw.trim()));
            }
        }
    }
    found.sort();
    found
}

/// Issue 12 fault 7 (RFC 2661 5.1.1, tunnel authentication; the same for every authenticator in
/// the crate): the Challenge Response was compared with `==`, which stops at the first differing
/// octet. Every authenticator compare goes through `telcp::io::ct_eq`: this scan of `src/` fails,
/// listing them, if any `==` / `!=` / `.eq(` is applied to a value named like an authenticator,
/// response, digest, MAC, tag or challenge, or a MAC library's `verify_*` is used instead.
#[test]
fn fault_07_every_authenticator_compare_is_constant_time() {
    let found = authenticator_compares(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        found.is_empty(),
        "authenticator compares not through telcp::io::ct_eq:\n{}",
        found.join("\n")
    );
}

/// The scan of fault 7 is precise: it catches the compares it is meant to and passes the
/// ordinary ones.
#[test]
fn fault_07_scan_catches_what_it_should() {
    let caught = [
        "(Some(r), Some(s)) => r == challenge_response(MessageType::SCCRP, s, &ours),",
        "if authenticator != expected {",
        "ok = computed_digest.eq(&got);",
        "if hmac_tag == tag { return true; }",
        "let ok = m.finalize().into_bytes() == *ext.authenticator;",
        "mac.verify_slice(authenticator).is_ok()",
    ];
    let passed = [
        "if s.mac == Some(mac) {",
        ".find(|m| m.mac == mac && m.node != self.node)",
        "if a.key() == (0, attr) {",
        "if self.seq == other.seq && self.len != 0 {",
        "assert!(ct_eq(&response, &expected));",
        "let x = a == b;",
    ];
    for l in caught {
        let hit = ["==", "!=", ".eq("].iter().any(|op| {
            l.match_indices(op).any(|(at, _)| {
                let (a, b) = operands(l, at, at + op.len());
                names_secret(&a) || names_secret(&b)
            })
        }) || l.contains("verify_slice(");
        assert!(hit, "not caught: {l}");
    }
    for l in passed {
        let hit = ["==", "!=", ".eq("].iter().any(|op| {
            l.match_indices(op).any(|(at, _)| {
                let (a, b) = operands(l, at, at + op.len());
                names_secret(&a) || names_secret(&b)
            })
        });
        assert!(!hit, "false alarm: {l}");
    }
}
