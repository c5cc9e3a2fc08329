//! The `lac` role: an L2TP LAC (RFC 2661) that opens calls to a contact LNS, follows its
//! redirects, and, once a call is up, sends an LCP Echo-Request over it and logs the replies.

use super::{Observer, RoleConfig, Running, Secret, StartError, defaults, drive};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use telcp::driver::Commander;
use telcp::l2tp::{self, Lac, LacConfig};

/// An LCP Echo-Request (RFC 1661 section 5.8: code 9, identifier 1, length 8, magic number 0).
pub const LCP_ECHO_REQUEST: [u8; 12] = [
    0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
];

/// `examples/config/lac.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The address the LAC sends from (L2TP's port is 1701).
    pub local: SocketAddr,
    /// The contact LNS.
    pub contact_lns: SocketAddr,
    /// Our Host Name AVP.
    #[serde(default = "host_name")]
    pub host_name: String,
    /// The tunnel secret (challenge/response, hidden AVPs); none by default.
    pub secret: Option<Secret>,
    /// Send a Challenge and require the LNS's response (needs `secret`).
    #[serde(default)]
    pub challenge: bool,
    /// Hide the Assigned Session ID and the numbers (needs `secret`).
    #[serde(default)]
    pub hide_avps: bool,
    /// Say LoadBalanceCapable in ICRQ (follow the contact LNS's redirects).
    #[serde(default = "defaults::yes")]
    pub load_balance_capable: bool,
    /// Calls opened at start.
    #[serde(default = "one")]
    pub calls: u32,
    /// Once a call is up, send an LCP Echo-Request on it.
    #[serde(default = "defaults::yes")]
    pub lcp_echo: bool,
    /// Close a tunnel left without calls after this many seconds (0: never).
    #[serde(default = "idle")]
    pub idle_tunnel_timeout_secs: u64,
    /// A fixed RNG seed (tests); absent: from the operating system.
    pub seed: Option<u64>,
    /// Seconds between stats lines (0: only at exit).
    #[serde(default = "defaults::stats_interval_secs")]
    pub stats_interval_secs: u64,
}

fn host_name() -> String {
    "telcp-lac".into()
}
fn one() -> u32 {
    1
}
fn idle() -> u64 {
    10
}

fn describe(lac: &Lac) -> String {
    format!(
        "calls {}, tunnels {}, {:?}",
        lac.call_count(),
        lac.tunnel_count(),
        lac.stats()
    )
}

impl RoleConfig for Config {
    const ROLE: &'static str = "lac";

    fn stats_interval(&self) -> Duration {
        Duration::from_secs(self.stats_interval_secs)
    }

    async fn start(self, observer: Observer) -> Result<Running, StartError> {
        let mut cfg = LacConfig::new(self.contact_lns);
        cfg.common.host_name = self.host_name.into_bytes();
        cfg.common.secret = self.secret.map(Secret::into_bytes);
        cfg.common.challenge = self.challenge;
        cfg.common.hide_avps = self.hide_avps;
        cfg.common.seed = super::seed(self.seed);
        cfg.advertise_load_balance = self.load_balance_capable;
        cfg.idle_tunnel_timeout = (self.idle_tunnel_timeout_secs > 0)
            .then(|| Duration::from_secs(self.idle_tunnel_timeout_secs));
        let lac = Lac::new(cfg, telcp::driver::now()).map_err(|e| format!("lac: {e}"))?;
        let echo_replies = Arc::new(AtomicU64::new(0));
        let replies = echo_replies.clone();
        let lcp_echo = self.lcp_echo;
        let (part, commander) = drive(
            "lac",
            lac,
            vec![self.local],
            Some(Box::new(move |d: l2tp::Data, _: Commander<Lac>| {
                let replies = replies.clone();
                Box::pin(async move {
                    // LCP (0xc021) Echo-Reply (code 10), after the address and control octets.
                    if d.frame.get(2..5) == Some(&[0xc0, 0x21, 0x0a][..]) {
                        let n = replies.fetch_add(1, Ordering::Relaxed) + 1;
                        tracing::info!(call = ?d.call, replies = n, "LCP Echo-Reply received");
                    } else {
                        tracing::debug!(call = ?d.call, len = d.frame.len(), "PPP frame received");
                    }
                })
            })),
            move |ev: &l2tp::Event, commander| {
                if let l2tp::Event::SessionUp {
                    call: Some(call), ..
                } = ev
                {
                    if lcp_echo {
                        let (c, call) = (commander.clone(), *call);
                        tokio::spawn(async move {
                            let r = c.send_data(call, LCP_ECHO_REQUEST).await;
                            tracing::info!(?call, result = ?r, "LCP Echo-Request sent");
                        });
                    }
                }
            },
            describe,
            &observer,
        )
        .await?;
        for _ in 0..self.calls {
            let call = commander.call(|lac, now| lac.open_session(now)).await?;
            match call {
                Ok(call) => tracing::info!(?call, lns = %self.contact_lns, "call opened"),
                Err(e) => tracing::warn!(error = %e, "cannot open a call"),
            }
        }
        Ok(Running {
            role: Self::ROLE,
            parts: vec![part],
        })
    }
}
