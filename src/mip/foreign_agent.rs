//! A minimal sans-IO foreign agent: relays registrations between mobile nodes and a home agent.

use super::wire::auth::SecurityAssociation;
use super::wire::{ExtensionType, Header, Message, Reply, Request, WireError, append_auth};
use crate::Transmit;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Configuration of a [`ForeignAgent`].
#[derive(Clone, Debug)]
pub struct ForeignAgentConfig {
    /// The home agent requests are relayed to (the virtual HA address, port 434).
    pub home_agent: SocketAddr,
    /// The FA-HA security association: when set, an FA-HA authentication extension is appended
    /// to every relayed request.
    pub fa_ha: Option<SecurityAssociation>,
    /// Most requests awaiting a reply (the oldest is forgotten beyond).
    pub max_pending: usize,
    /// How long a relayed request waits for its reply.
    pub pending_timeout: Duration,
}

/// Why the foreign agent refused a datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaError {
    /// Not a registration message.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A reply to no request this FA relayed.
    #[error("reply to no relayed request")]
    Unmatched,
    /// A request from the home agent's side, or a reply from a mobile node's.
    #[error("message from the wrong side")]
    WrongSide,
    /// A configuration that cannot work.
    #[error("bad foreign agent configuration")]
    Config,
    /// A reply without a valid FA-HA authenticator (when the FA has an FA-HA association).
    #[error("reply failed FA-HA authentication")]
    Unauthenticated,
}

/// Relays Registration Requests from mobile nodes (through their MN-HA extension, appending FA-HA
/// authentication when configured) to the home agent, and Registration Replies (through their
/// MN-HA extension) back to the mobile node that asked,
/// matched by the identification's low 32 bits (with an FA-HA association, only replies whose
/// FA-HA authenticator verifies). Bounded: `max_pending` relayed requests, each
/// forgotten after `pending_timeout`; at most 1024 queued transmits (newest dropped). Call order as
/// every endpoint: `handle_*`, then drain [`ForeignAgent::poll_transmit`], then
/// [`ForeignAgent::poll_timeout`].
#[derive(Debug)]
pub struct ForeignAgent {
    cfg: ForeignAgentConfig,
    pending: HashMap<u32, (SocketAddr, Instant)>,
    order: VecDeque<(u32, Instant)>,
    transmits: VecDeque<Transmit>,
    /// Requests relayed.
    pub relayed_requests: u64,
    /// Replies relayed.
    pub relayed_replies: u64,
}

impl ForeignAgent {
    /// A foreign agent. Refused: `max_pending` of 0, a pending timeout of 0 or above one hour.
    pub fn new(cfg: ForeignAgentConfig, _now: Instant) -> Result<Self, FaError> {
        if cfg.max_pending == 0
            || cfg.pending_timeout.is_zero()
            || cfg.pending_timeout > Duration::from_secs(3600)
        {
            return Err(FaError::Config);
        }
        Ok(ForeignAgent {
            cfg,
            pending: HashMap::new(),
            order: VecDeque::new(),
            transmits: VecDeque::new(),
            relayed_requests: 0,
            relayed_replies: 0,
        })
    }

    fn push(&mut self, t: Transmit) {
        if self.transmits.len() < 1024 {
            self.transmits.push_back(t);
        }
    }

    /// Feeds a datagram: a request from a mobile node, or a reply from the home agent.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        _to: SocketAddr,
        data: &[u8],
    ) -> Result<(), FaError> {
        let (header, _) = Header::parse(data)?;
        match header {
            Header::Request(q) => self.relay_request(now, from, &q, data),
            Header::Reply(p) => self.relay_reply(&p, data),
        }
    }

    /// A mobile node's request, relayed to the home agent (RFC 5944 section 3.7.2).
    fn relay_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        q: &Request,
        data: &[u8],
    ) -> Result<(), FaError> {
        if from == self.cfg.home_agent {
            return Err(FaError::WrongSide);
        }
        // RFC 5944 section 3.7.2.3: the request is relayed unchanged through the MN-HA
        // extension; the extensions after it (for this FA) are removed.
        let keep = through_mn_ha(data)?;
        self.handle_timeout(now);
        let key = q.identification as u32;
        while self.pending.len() >= self.cfg.max_pending {
            match self.order.pop_front() {
                Some((k, d)) => {
                    if self.pending.get(&k).is_some_and(|(_, dd)| *dd == d) {
                        self.pending.remove(&k);
                    }
                }
                None => self.pending.clear(),
            }
        }
        let deadline = now + self.cfg.pending_timeout;
        self.pending.insert(key, (from, deadline));
        if self.order.len() >= self.cfg.max_pending.saturating_mul(2) {
            // Requests repeating an identification leave stale entries behind; drop
            // them (keeping the newest entry of each live request) so a flood cannot
            // grow the queue past the pending table.
            let pending = &self.pending;
            let mut seen = std::collections::HashSet::new();
            let live: Vec<(u32, Instant)> = self
                .order
                .iter()
                .rev()
                .filter(|(k, d)| pending.get(k).is_some_and(|(_, dd)| dd == d) && seen.insert(*k))
                .copied()
                .collect();
            self.order = live.into_iter().rev().collect();
        }
        self.order.push_back((key, deadline));
        let mut out = data[..keep].to_vec();
        if let Some(sa) = &self.cfg.fa_ha {
            append_auth(
                &mut out,
                ExtensionType::FA_HA_AUTH,
                sa.spi,
                sa.algorithm,
                &sa.key,
            );
        }
        self.relayed_requests += 1;
        let ha = self.cfg.home_agent;
        self.push(Transmit::to(ha, out));
        Ok(())
    }

    /// The home agent's reply, relayed to the mobile node (RFC 5944 section 3.7.3).
    fn relay_reply(&mut self, p: &Reply, data: &[u8]) -> Result<(), FaError> {
        let key = p.identification as u32;
        if !self.pending.contains_key(&key) {
            return Err(FaError::Unmatched);
        }
        // RFC 5944 section 3.7.3.2: the extensions after the MN-HA extension (this FA's
        // FA-HA) are removed before the reply goes to the mobile node.
        let keep = through_mn_ha(data)?;
        if let Some(sa) = &self.cfg.fa_ha {
            let m = Message::parse(data)?;
            let ok = m
                .position(ExtensionType::FA_HA_AUTH)
                .is_some_and(|i| m.verify(data, i, sa).is_ok());
            if !ok {
                return Err(FaError::Unauthenticated);
            }
        }
        let Some((mn, _)) = self.pending.remove(&key) else {
            return Err(FaError::Unmatched);
        };
        self.relayed_replies += 1;
        self.push(Transmit::to(mn, data[..keep].to_vec()));
        Ok(())
    }

    /// Forgets relayed requests whose reply is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(k, d)) = self.order.front() {
            if d > now {
                break;
            }
            self.order.pop_front();
            if self.pending.get(&k).is_some_and(|(_, dd)| *dd == d) {
                self.pending.remove(&k);
            }
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.order.front().map(|(_, d)| *d)
    }
}

/// How many leading bytes of a registration message the FA relays: everything through the
/// Mobile-Home Authentication Extension; without one, everything before the first Foreign-Home
/// Authentication Extension (RFC 5944 sections 3.7.2.3 and 3.7.3.2).
fn through_mn_ha(data: &[u8]) -> Result<usize, WireError> {
    let m = Message::parse(data)?;
    let end = |i: usize| m.offset_of(i).map(|o| o + m.extensions[i].encoded_len());
    Ok(match m.position(ExtensionType::MN_HA_AUTH) {
        Some(i) => end(i),
        None => m
            .position(ExtensionType::FA_HA_AUTH)
            .and_then(|i| m.offset_of(i)),
    }
    .map_or(data.len(), |n| n.min(data.len())))
}

crate::io::impl_node!(ForeignAgent);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_repeating_one_identification_stays_bounded() {
        // Found by audit: each request pushed a deadline, and a repeated identification only
        // replaced its pending entry, so the deadline queue grew with every request.
        let t0 = Instant::now();
        let cfg = ForeignAgentConfig {
            home_agent: SocketAddr::from(([192, 0, 2, 1], 434)),
            fa_ha: None,
            max_pending: 4,
            pending_timeout: Duration::from_secs(60),
        };
        let Ok(mut fa) = ForeignAgent::new(cfg, t0) else {
            panic!("valid config");
        };
        // A Registration Request (type 1), lifetime 600, identification 7.
        let mut rrq = vec![1u8, 0, 2, 88, 10, 0, 5, 1, 10, 0, 0, 1, 203, 0, 113, 1];
        rrq.extend_from_slice(&7u64.to_be_bytes());
        let mn = SocketAddr::from(([198, 51, 100, 1], 434));
        let to = SocketAddr::from(([198, 51, 100, 2], 434));
        for _ in 0..10_000 {
            assert_eq!(fa.handle_datagram(t0, mn, to, &rrq), Ok(()));
            while fa.poll_transmit().is_some() {}
        }
        assert!(fa.order.len() <= 8, "deadline queue: {}", fa.order.len());
        assert_eq!(fa.pending.len(), 1);
        assert_eq!(fa.relayed_requests, 10_000);
    }
}
