//! Peer liveness and load, shared by the three subsystems: a heartbeat wire format, a failure
//! detector and a load table with selection policies, combined in one sans-IO [`Monitor`].
//!
//! * [`wire`]: the authenticated heartbeat datagram ([`Heartbeat`], [`is_heartbeat`] to demultiplex
//!   it from L2TP, Mobile IP or GTP on a shared port). Its byte layout is drawn in the module docs.
//! * [`detector`]: the per-node [`ReplayGuard`] and the [`FailureDetector`] (Up, Suspect, Down).
//! * [`table`]: the [`LoadTable`] and its [`Policy`]s (least loaded, weighted by spare capacity,
//!   round robin).
//! * [`monitor`]: [`Monitor`], which sends heartbeats to its peers every interval, authenticates
//!   and de-duplicates what it receives, runs the detector and keeps the load table, and reports
//!   [`HealthEvent`]s. The L2TP pool, the Home Agent cluster and the steering switch embed one.

pub mod detector;
pub mod monitor;
pub mod table;
pub mod wire;

pub use detector::{
    DetectorConfig, FailureDetector, Freshness, NodeState, ReplayError, ReplayGuard, Transition,
};
pub use monitor::{ConfigError, HealthError, HealthEvent, Monitor, MonitorConfig, PeerStatus};
pub use table::{LoadTable, Policy, TableFull};
pub use wire::{
    ClusterKey, Heartbeat, Load, MAX_ADDRESSES, MAX_LEN, NodeId, Role, WireError, is_heartbeat,
};
