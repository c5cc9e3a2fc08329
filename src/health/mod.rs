//! Peer liveness and load, shared by the three subsystems: a heartbeat wire format, a failure
//! detector and a load table with selection policies, combined in one sans-IO [`Monitor`].
//!
//! * [`wire`]: the authenticated heartbeat datagram ([`Heartbeat`], [`is_heartbeat`] to demultiplex
//!   it from L2TP, Mobile IP or GTP on a shared port). Its byte layout is drawn in the module docs.
//! * [`detector`]: the per-node [`ReplayGuard`] and the [`FailureDetector`] (Up, Suspect, Down).
//! * [`table`]: the [`LoadTable`] and its [`Policy`]s (least loaded, weighted by spare capacity,
//!   round robin, most spare).
//! * [`monitor`]: [`Monitor`], which sends heartbeats to its peers every interval, authenticates
//!   and de-duplicates what it receives, runs the detector and keeps the load table, and reports
//!   [`HealthEvent`]s. The LNS, the Home Agent, the switch processor and the processor embed one
//!   through [`Embedded`].
//!
//! * [`embed`]: [`HealthConfig`], the tuning every host shares, and [`Embedded`], the one adapter
//!   by which the LNS, the Home Agent, the switch processor and the processor share their UDP
//!   port with heartbeats (demultiplexing, timeouts, transmits, events, deadlines).
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use telcp::health::{ClusterKey, HealthEvent, Load, Monitor, MonitorConfig, NodeId, Policy, Role};
//!
//! let (a_addr, b_addr): (SocketAddr, SocketAddr) =
//!     ("10.0.0.1:1701".parse().unwrap(), "10.0.0.2:1701".parse().unwrap());
//! let key = ClusterKey::new(b"the cluster secret");
//! let t0 = Instant::now(); // a caller's clock; the crate never reads one
//! let mut a = Monitor::new(
//!     MonitorConfig::new(NodeId(1), Role::CONTACT_LNS, key.clone(), vec![(NodeId(2), b_addr)]),
//!     t0,
//! )
//! .unwrap();
//! let mut b = Monitor::new(
//!     MonitorConfig::new(NodeId(2), Role::LNS, key, vec![(NodeId(1), a_addr)]),
//!     t0,
//! )
//! .unwrap();
//! b.set_load(Load::new(10, 100));
//! b.handle_timeout(t0); // b's first round of heartbeats is due at once
//! while let Some(t) = b.poll_transmit() {
//!     assert!(telcp::health::is_heartbeat(&t.payload));
//!     a.handle_datagram(t0, b_addr, a_addr, &t.payload).unwrap();
//! }
//! assert_eq!(a.poll_event(), Some(HealthEvent::Up { node: NodeId(2) }));
//! a.set_load(Load::new(50, 100));
//! let mut rng = telcp::Rng::seed_from_u64(1);
//! assert_eq!(a.select(Policy::LeastLoaded, &mut rng, |_| true), Some(NodeId(2)));
//! // Silence from b: Suspect after 2 intervals, Down after 4 (the defaults).
//! a.handle_timeout(t0 + Duration::from_secs(2));
//! assert_eq!(a.poll_event(), Some(HealthEvent::Suspect { node: NodeId(2) }));
//! assert_eq!(a.select(Policy::LeastLoaded, &mut rng, |_| true), Some(NodeId(1)));
//! ```

pub mod detector;
pub mod embed;
pub mod monitor;
pub mod table;
pub mod wire;

pub use detector::{
    DetectorConfig, FailureDetector, Freshness, NodeState, ReplayError, ReplayGuard, Transition,
};
pub use embed::{Embedded, HealthConfig};
pub use monitor::{
    ConfigError, ConfigField, HealthError, HealthEvent, Monitor, MonitorConfig, MonitorStats,
    PeerStatus,
};
pub use table::{LoadTable, Policy, TableFull, most_spare};
pub use wire::{
    ClusterKey, Heartbeat, Load, MAX_ADDRESSES, MAX_LEN, NodeId, Role, WireError, is_heartbeat,
};
