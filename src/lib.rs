//! # telcp: a sans-IO telecom control plane
//!
//! telcp holds three control-plane subsystems, each a set of pure state machines:
//!
//! * [`l2tp`]: L2TPv2 (RFC 2661) LAC and LNS endpoints with contact-LNS load redirection, pool
//!   heartbeats and a virtual LNS.
//! * [`mip`]: a cluster of Mobile IPv4 (RFC 5944) Home Agents sharing one virtual HA address, with
//!   temporary and permanent bindings, replication and failover.
//! * [`steering`]: virtual-ID packet steering in a multi-processor GTP gateway.
//!
//! They share [`io`] (datagrams to send, the seeded RNG, timers) and [`health`] (heartbeats, failure
//! detection, load-based selection).
//!
//! ## The sans-IO contract
//!
//! The caller owns sockets and timers. It feeds received datagrams and the current time into an
//! endpoint and polls out datagrams to send, events and the next deadline. Nothing in this crate
//! opens a socket, spawns a thread, sleeps or reads the clock (`Instant::now()` is never called):
//! time enters only as a `now: Instant` argument, and randomness only from a ChaCha generator seeded
//! by a configuration field, so every run is a pure function of its inputs.
//!
//! After any `handle_*` call or command, drain `poll_transmit`, then `poll_event`, then read
//! `poll_timeout` and call `handle_timeout` when it is reached.
//!
//! ## Features
//!
//! * `sim`: [`sim`], a deterministic in-process network (seeded loss, duplication, reordering,
//!   delay, partitions, crashes) used by the tests, the fuzz targets and the demo.
//! * `pcap`: [`pcap`], a pcap writer with real Ethernet/IPv4/UDP framing.
//! * `proptest`: [`strategies`], proptest generators for every wire message.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod health;
pub mod io;
pub mod l2tp;
pub mod mip;
pub mod steering;

#[cfg(feature = "pcap")]
pub mod pcap;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "proptest")]
pub mod strategies;

#[doc(hidden)]
pub mod harness;

pub use io::{MacAddr, Node, Rng, TimerQueue, Transmit};
