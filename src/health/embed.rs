//! The one way a host embeds health: [`HealthConfig`] (the tuning every host shares) and
//! [`Embedded`] (a [`Monitor`] sharing the host's UDP port).
//!
//! The four hosts (the LNS, the Home Agent, the switch processor and the processor) each carry a
//! `health: HealthConfig` in their configuration and build their [`MonitorConfig`] from it plus
//! the identity their own membership gives (node id, role, incarnation, key, peers). They hold
//! one [`Embedded`] and drive it the same way:
//!
//! ```text
//! // handle_datagram: heartbeats first, on the shared port
//! if let Some(r) = self.health.handle_datagram(now, from, data) {
//!     self.drain_health(now);            // host-specific: act on events, queue transmits
//!     return r.map_err(InputError::Health);
//! }
//! // handle_timeout
//! self.health.handle_timeout(now);
//! self.drain_health(now);
//! // drain_health: transmits leave from the host's address
//! while let Some(t) = self.health.poll_transmit() { self.push(t); }
//! while let Some(e) = self.health.poll_event() { /* host's reaction */ }
//! // poll_timeout
//! self.health.earliest(own_deadline)
//! ```
//!
//! Bounds are the monitor's: one round of heartbeats queued (older unsent ones dropped and
//! counted in [`super::MonitorStats::stale_dropped`]), at most [`HealthConfig::max_events`]
//! events (oldest dropped and counted in [`super::MonitorStats::events_dropped`]).

use super::detector::DetectorConfig;
use super::monitor::{ConfigError, ConfigField, HealthError, HealthEvent, Monitor, MonitorConfig};
use super::wire::is_heartbeat;
use crate::Transmit;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The health tuning every host shares (its identity comes from the host's membership).
///
/// Defaults ([`HealthConfig::default`]): heartbeats every 1 s, Suspect after 2 missed intervals,
/// Down after 4, overloaded at 90 %, at most 1024 queued events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthConfig {
    /// Time between two rounds of heartbeats (and the failure detector's unit).
    pub interval: Duration,
    /// Missed intervals before a peer is Suspect (at least 1).
    pub misses_suspect: u32,
    /// Missed intervals before a peer is Down (more than `misses_suspect`).
    pub misses_down: u32,
    /// A node whose load percentage is at or above this (1..=100) is overloaded and never
    /// selected.
    pub overload_percent: u8,
    /// Most health events queued before the oldest is dropped (at least 1).
    pub max_events: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: Duration::from_secs(1),
            misses_suspect: 2,
            misses_down: 4,
            overload_percent: 90,
            max_events: 1024,
        }
    }
}

impl HealthConfig {
    /// The same, heartbeats every `interval`.
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The same, Suspect after `suspect` missed intervals and Down after `down`.
    #[must_use]
    pub fn with_misses(mut self, suspect: u32, down: u32) -> Self {
        self.misses_suspect = suspect;
        self.misses_down = down;
        self
    }

    /// The same, overloaded at `percent`.
    #[must_use]
    pub fn with_overload_percent(mut self, percent: u8) -> Self {
        self.overload_percent = percent;
        self
    }

    /// The same, at most `max` queued events.
    #[must_use]
    pub fn with_max_events(mut self, max: usize) -> Self {
        self.max_events = max;
        self
    }

    /// How long a peer may stay silent before it is declared Down (`interval * misses_down`,
    /// saturating).
    pub fn down_after(&self) -> Duration {
        self.interval.saturating_mul(self.misses_down)
    }

    /// Checks the tuning: the detector's timing, the overload threshold, the event bound.
    pub fn check(&self) -> Result<DetectorConfig, ConfigError> {
        let timing = DetectorConfig {
            interval: self.interval,
            misses_suspect: self.misses_suspect,
            misses_down: self.misses_down,
        };
        if !timing.is_valid() {
            return Err(ConfigError::Timing {
                interval: self.interval,
                misses_suspect: self.misses_suspect,
                misses_down: self.misses_down,
            });
        }
        if !(1..=100).contains(&self.overload_percent) {
            return Err(ConfigError::OutOfRange(ConfigField::OverloadPercent));
        }
        if self.max_events == 0 {
            return Err(ConfigError::OutOfRange(ConfigField::MaxEvents));
        }
        Ok(timing)
    }
}

/// A [`Monitor`] embedded in a host that shares its UDP port with heartbeats. See the module
/// docs for the call order. It dereferences to its [`Monitor`] for the queries (states, loads,
/// the load table) and the commands (this node's load and addresses).
#[derive(Debug)]
pub struct Embedded {
    monitor: Monitor,
    src: Option<SocketAddr>,
}

impl Embedded {
    /// A monitor whose first round of heartbeats is due at `now`; its heartbeats leave from
    /// `src` (the host's address), or from wherever the caller sends them with `None`.
    pub fn new(
        config: MonitorConfig,
        src: Option<SocketAddr>,
        now: Instant,
    ) -> Result<Embedded, ConfigError> {
        Ok(Embedded {
            monitor: Monitor::new(config, now)?,
            src,
        })
    }

    /// The monitor (states, loads, the load table, counters).
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Demultiplexes one datagram received on the shared port: `None` when it is not a
    /// heartbeat (the host parses it), `Some` with the monitor's verdict when it is.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Option<Result<(), HealthError>> {
        is_heartbeat(data).then(|| self.monitor.handle_heartbeat(now, from, data))
    }

    /// Whether [`Embedded::handle_timeout`] has work at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.monitor.poll_timeout().is_some_and(|d| d <= now)
    }

    /// Sends a round of heartbeats when due and ages the peers (a no-op before the deadline).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.monitor.handle_timeout(now);
    }

    /// The next heartbeat to send, from the host's address.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut t = self.monitor.poll_transmit()?;
        if self.src.is_some() {
            t.src = self.src;
        }
        Some(t)
    }

    /// The next health event, for the host to act on.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<HealthEvent> {
        self.monitor.poll_event()
    }

    /// The earlier of the host's own deadline and the monitor's.
    #[must_use]
    pub fn earliest(&self, own: Option<Instant>) -> Option<Instant> {
        match (own, self.monitor.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl std::ops::Deref for Embedded {
    type Target = Monitor;

    fn deref(&self) -> &Monitor {
        &self.monitor
    }
}

impl std::ops::DerefMut for Embedded {
    fn deref_mut(&mut self) -> &mut Monitor {
        &mut self.monitor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{ClusterKey, NodeId, Role};

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, n], 1701))
    }

    fn embedded(me: u32, peer: u32, now: Instant) -> Embedded {
        let mut c = MonitorConfig::new(
            NodeId(me),
            Role::LNS,
            ClusterKey::new(b"test cluster key"),
            vec![(NodeId(peer), addr(peer as u8))],
        );
        c.health = HealthConfig::default().with_interval(Duration::from_millis(100));
        Embedded::new(c, Some(addr(me as u8)), now).unwrap()
    }

    /// A datagram that is not a heartbeat is left to the host; a heartbeat is the monitor's.
    #[test]
    fn demultiplexes_heartbeats_only() {
        let t0 = Instant::now();
        let mut a = embedded(1, 2, t0);
        let mut b = embedded(2, 1, t0);
        // An L2TP control header (T bit set) is not a heartbeat.
        assert_eq!(a.handle_datagram(t0, addr(2), &[0xc8, 0x02, 0, 12]), None);
        b.handle_timeout(t0);
        let t = b.poll_transmit().unwrap();
        assert_eq!((t.src, t.dst), (Some(addr(2)), addr(1)));
        assert_eq!(a.handle_datagram(t0, addr(2), &t.payload), Some(Ok(())));
        assert_eq!(a.poll_event(), Some(HealthEvent::Up { node: NodeId(2) }));
        // The same heartbeat again is a replay: refused, still the monitor's.
        assert!(matches!(
            a.handle_datagram(t0, addr(2), &t.payload),
            Some(Err(HealthError::Replayed { .. }))
        ));
    }

    /// The merged deadline is the earlier one; the monitor's first round is due at once.
    #[test]
    fn merges_deadlines() {
        let t0 = Instant::now();
        let mut a = embedded(1, 2, t0);
        assert_eq!(a.earliest(None), Some(t0));
        assert!(a.is_due(t0));
        a.handle_timeout(t0);
        let next = t0 + Duration::from_millis(100);
        assert_eq!(a.earliest(None), Some(next));
        assert_eq!(
            a.earliest(Some(t0 + Duration::from_millis(5))),
            Some(t0 + Duration::from_millis(5))
        );
        assert_eq!(a.earliest(Some(next + Duration::from_secs(1))), Some(next));
    }

    /// The tuning is checked as a whole: `misses_down` must exceed `misses_suspect`, the
    /// threshold lie in 1..=100 and the event bound be positive.
    #[test]
    fn check_refuses_unusable_tuning() {
        let ok = HealthConfig::default();
        assert!(ok.check().is_ok());
        assert!(matches!(
            ok.with_misses(3, 3).check(),
            Err(ConfigError::Timing { .. })
        ));
        assert_eq!(
            ok.with_overload_percent(0).check().err(),
            Some(ConfigError::OutOfRange(ConfigField::OverloadPercent))
        );
        assert_eq!(
            ok.with_max_events(0).check().err(),
            Some(ConfigError::OutOfRange(ConfigField::MaxEvents))
        );
        assert_eq!(ok.down_after(), Duration::from_secs(4));
    }
}
