//! Tunnel secrets: the shared secret of one tunnel (RFC 2661 5.1.1 challenge/response, 4.3
//! hidden AVPs), the tunnel's own when it has one (a LAC's plan endpoint with a Tunnel-Password,
//! RFC 2868 3.5), else [`Config::secret`]. No secret is ever shown by `Debug`: only its length.

use super::super::Config;
use super::Core;
use crate::io::ct_eq;
use std::fmt;

/// A tunnel's own shared secret. `Debug` shows its length, never its octets; equality is
/// compared in constant time. A boxed slice (no spare capacity kept per tunnel) behind one thin
/// pointer (the tunnel holds 8 bytes for it, present or not: memory per tunnel).
#[derive(Clone)]
#[allow(clippy::box_collection)]
pub(crate) struct TunnelSecret(Box<Box<[u8]>>);

impl TunnelSecret {
    /// The secret `bytes`.
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        TunnelSecret(Box::new(bytes.into_boxed_slice()))
    }

    /// The octets.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for TunnelSecret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for TunnelSecret {}

impl fmt::Debug for TunnelSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

/// `Debug` for an optional secret held as bytes: its length only.
pub(crate) struct Redacted<'a>(pub(crate) Option<&'a [u8]>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "Some(<{} bytes redacted>)", s.len()),
            None => f.write_str("None"),
        }
    }
}

impl Core {
    /// The secret of tunnel `tid`: its own, else [`Config::secret`] (also for no such tunnel,
    /// e.g. an SCCRQ not yet taken).
    pub(crate) fn secret_of(&self, tid: u16) -> Option<&[u8]> {
        self.tunnels
            .get(&tid)
            .and_then(|t| t.secret.as_ref())
            .map(TunnelSecret::as_bytes)
            .or(self.cfg.secret.as_deref())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            host_name,
            secret,
            challenge,
            hide_avps,
            hidden_pad_block,
            enterprise,
            receive_window,
            retransmit_initial,
            retransmit_cap,
            max_retries,
            hello_interval,
            hold_period,
            max_tunnels,
            max_pending_tunnels,
            session_setup_timeout,
            max_sessions_per_tunnel,
            max_sessions,
            max_out_of_order,
            max_send_queue,
            max_data_queue,
            max_events,
            sequencing_required,
            refusals,
            failover,
            restore,
            seed,
        } = self;
        f.debug_struct("Config")
            .field("host_name", host_name)
            .field("secret", &Redacted(secret.as_deref()))
            .field("challenge", challenge)
            .field("hide_avps", hide_avps)
            .field("hidden_pad_block", hidden_pad_block)
            .field("enterprise", enterprise)
            .field("receive_window", receive_window)
            .field("retransmit_initial", retransmit_initial)
            .field("retransmit_cap", retransmit_cap)
            .field("max_retries", max_retries)
            .field("hello_interval", hello_interval)
            .field("hold_period", hold_period)
            .field("max_tunnels", max_tunnels)
            .field("max_pending_tunnels", max_pending_tunnels)
            .field("session_setup_timeout", session_setup_timeout)
            .field("max_sessions_per_tunnel", max_sessions_per_tunnel)
            .field("max_sessions", max_sessions)
            .field("max_out_of_order", max_out_of_order)
            .field("max_send_queue", max_send_queue)
            .field("max_data_queue", max_data_queue)
            .field("max_events", max_events)
            .field("sequencing_required", sequencing_required)
            .field("refusals", refusals)
            .field("failover", failover)
            .field("restore", restore)
            .field("seed", &seed.map(|_| "<seeded>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_debug_printed() {
        let s = TunnelSecret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "<7 bytes redacted>");
        assert_eq!(s, TunnelSecret::new(b"hunter2".to_vec()));
        assert_ne!(s, TunnelSecret::new(b"hunter3".to_vec()));
        let cfg = Config {
            secret: Some(b"hunter2".to_vec()),
            ..Config::default()
        };
        let d = format!("{cfg:?}");
        assert!(!d.contains("hunter2") && !d.contains("104, 117"), "{d}");
        assert!(d.contains("7 bytes redacted"), "{d}");
    }
}
