//! A small `std::net::UdpSocket` driver of [`telcp::l2tp::Lns`], printing a readable trace of the
//! control messages and events: the harness of `tests/interop_xl2tpd.rs` against a real xl2tpd
//! LAC. (The runnable LNS is `examples/lns.rs`, on the async driver.)
//!
//! `Options::redirect_to` makes this LNS a full contact LNS with one pool member `IP` and the standard
//! redirect on: every ICRQ is answered with CDN Result 2 / Error 9 "try another directed" listing
//! `IP` (a LAC that does not send the LoadBalanceCapable AVP, like xl2tpd, gets the standard form).
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use telcp::l2tp::pool::MemberState;
use telcp::l2tp::wire::{Message, ParseOptions};
use telcp::l2tp::{Lns, LnsConfig};

/// Driver options.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: SocketAddr,
    pub secret: Option<Vec<u8>>,
    pub challenge: bool,
    pub redirect_to: Option<IpAddr>,
    pub duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: "127.0.0.1:1701".parse().unwrap(),
            secret: None,
            challenge: false,
            redirect_to: None,
            duration: Duration::from_secs(30),
        }
    }
}

fn describe(data: &[u8], secret: Option<&[u8]>) -> String {
    let opts = ParseOptions {
        secret,
        ..Default::default()
    };
    match Message::parse_with(data, &opts) {
        Ok(Message::Control(c)) => match c.message_type() {
            Some(t) => {
                let hidden = c.avps.iter().filter(|a| a.hidden).count();
                format!(
                    "{t} tunnel={} session={} ns={} nr={}{}",
                    c.header.tunnel_id,
                    c.header.session_id,
                    c.header.ns,
                    c.header.nr,
                    if hidden > 0 {
                        format!(" hidden_avps={hidden}")
                    } else {
                        String::new()
                    }
                )
            }
            None => format!("ZLB tunnel={} nr={}", c.header.tunnel_id, c.header.nr),
        },
        Ok(Message::Data(d)) => format!(
            "DATA tunnel={} session={} len={}",
            d.header.tunnel_id,
            d.header.session_id,
            d.payload.len()
        ),
        Err(e) => format!("unparsed ({e})"),
    }
}

/// Runs the LNS until `stop` returns true or the duration passes; every trace line goes to `log`.
pub fn run(
    opts: Options,
    log: &mut dyn FnMut(String),
    stop: &dyn Fn() -> bool,
) -> std::io::Result<()> {
    let sock = UdpSocket::bind(opts.bind)?;
    sock.set_nonblocking(true)?;
    let local = sock.local_addr()?;
    log(format!("listening {local}"));
    let start = Instant::now();
    let mut cfg = LnsConfig::default();
    cfg.common.host_name = b"telcp-lns".to_vec();
    cfg.common.secret = opts.secret.clone();
    cfg.common.challenge = opts.challenge;
    cfg.common.seed = telcp::io::seed(7);
    if opts.redirect_to.is_some() {
        cfg.standard_redirect = true;
    }
    let mut lns = Lns::new(cfg, start).map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(ip) = opts.redirect_to {
        lns.pool.update(ip, MemberState::Up, 0, 1000, 0);
        lns.set_load(100);
    }
    let secret = opts.secret.clone();
    let mut buf = vec![0u8; 65536];
    let drain = |lns: &mut Lns, log: &mut dyn FnMut(String)| -> std::io::Result<()> {
        while let Some(t) = lns.poll_transmit() {
            log(format!(
                "send {} {}",
                t.dst,
                describe(&t.payload, secret.as_deref())
            ));
            sock.send_to(&t.payload, t.dst)?;
        }
        while let Some(e) = lns.poll_event() {
            log(format!("event {e:?}"));
        }
        while let Some(d) = lns.poll_data() {
            log(format!("data {:?} {} octets", d.session, d.frame.len()));
        }
        Ok(())
    };
    while start.elapsed() < opts.duration && !stop() {
        let now = Instant::now();
        // One datagram at a time, each followed by what it caused: the trace reads in order.
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let data = &buf[..n];
                    log(format!("recv {from} {}", describe(data, secret.as_deref())));
                    if let Err(e) = lns.handle_datagram(now, from, local, data) {
                        log(format!("input error: {e}"));
                    }
                    drain(&mut lns, log)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if lns.poll_timeout().is_some_and(|d| d <= now) {
            lns.handle_timeout(now);
        }
        drain(&mut lns, log)?;
        let wait = lns
            .poll_timeout()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(5))
            .min(Duration::from_millis(5));
        std::thread::sleep(wait);
    }
    Ok(())
}
