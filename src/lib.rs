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
//! They share [`io`] (datagrams to send, the seeded RNG, timers), [`health`] (heartbeats, failure
//! detection, load-based selection) and [`replica`] (acked, authenticated replication of state to
//! backups, with bulk sync and epochs).
//!
//! ## The sans-IO contract
//!
//! The caller owns sockets and timers. It feeds received datagrams and the current time into an
//! endpoint and polls out datagrams to send, events and the next deadline. Nothing in this crate
//! opens a socket, spawns a thread, sleeps or reads the clock (`Instant::now()` is never called):
//! time enters only as a `now: Instant` argument, and randomness only from a ChaCha generator seeded
//! by a configuration field: `seed: None` (the default) reads 32 bytes from the operating system
//! once, in `new`; `Some(seed)` ([`io::seed`]) makes every run a pure function of its inputs.
//! The one exception is the optional async driver, `telcp::driver` (feature `tokio`): it is the
//! only module that binds sockets and reads a clock (tokio's, so its tests run under paused
//! time), and it drives the endpoints through this same contract.
//!
//! After any `handle_*` call or command, drain `poll_transmit`, then `poll_event`, then read
//! `poll_timeout` and call `handle_timeout` when it is reached. Time passed in never goes
//! backwards; a `handle_timeout` before the deadline is a no-op. Bad input never panics: it is
//! answered inside the protocol (a refusal queued for transmission) or returned as a typed error,
//! and the endpoint's other state is unchanged.
//!
//! ## A complete run loop
//!
//! Every endpoint implements the one contract, [`Endpoint`] (`handle_datagram`, `handle_timeout`,
//! `poll_transmit`, `poll_event`, `poll_data`, `poll_timeout`, `stats`, with its own `Event`,
//! `Error`, `Data` and `Stats` types), so one loop over `std::net::UdpSocket` drives any of them.
//! Each endpoint's events convert into the crate-wide [`Event`]; drivers that hold several kinds
//! of endpoint at once (the simulator `telcp::sim`, feature `sim`) use the object-safe form, [`Node`], which every
//! `Endpoint` is.
//! Such a loop sends every [`Transmit`]'s payload to its `dst`. When `src` is set, the datagram
//! must leave from that local address: a driver holds one socket per address the endpoint listens
//! on and sends from the one bound to `src` (the socket the datagram came in on, for `to`). So
//! `to` is a specific address: a socket bound to 0.0.0.0 or `::` does not say which local address
//! a datagram came to (only `IP_PKTINFO` / `IPV6_RECVPKTINFO` do), and an endpoint handed the
//! wildcard `local_addr()` as `to` takes it as given: its answers then name 0.0.0.0 as `src`, and
//! an L2TP [`l2tp::SessionHandoff`]'s `local` is 0.0.0.0 too. Often
//! `src` is the address the peer used (an L2TP tunnel's), but not always the first socket's: a
//! [`mip::HomeAgent`] sends its replies from the virtual HA address (port 434, [`mip::wire::PORT`],
//! when the request came to it) in both forwarding modes, and a [`steering::LineInterface`] sends
//! what leaves the gateway from the outside address the peer sent to (its GTP-C or GTP-U address),
//! never from its fabric address; sent from the wrong socket, a Create PDP Context Response reaches
//! the SGSN from an address it never asked. One field asks for more than a UDP socket can do:
//! `link_dst` (a link-layer destination), which with a `src` the caller does not own (the mobile
//! node's or foreign agent's) only a Home Agent in [`mip::ForwardMode::Layer2`] (its default, the
//! shared-link design) emits; over plain UDP set its mode to [`mip::ForwardMode::Layer3`]. The loop
//! below has one socket, enough for a [`health::Monitor`] (whose `src` is never another address).
//! User data leaves through [`Endpoint::poll_data`]: an L2TP [`l2tp::Lac`] or [`l2tp::Lns`] hands
//! out the PPP frames it received there (a bounded queue; frames beyond it are dropped and
//! counted), which a loop drains after `poll_event`; the other roles have no data path for their
//! caller and always return `None`.
//!
//! Here the loop runs a [`health::Monitor`] that sends authenticated heartbeats to a peer and
//! reports its health:
//!
//! ```no_run
//! use std::net::{SocketAddr, UdpSocket};
//! use std::time::{Duration, Instant};
//! use telcp::Endpoint;
//! use telcp::health::{ClusterKey, Monitor, MonitorConfig, NodeId, Role};
//!
//! /// Drives any endpoint over one socket bound to `local`.
//! fn run<E: Endpoint>(socket: &UdpSocket, local: SocketAddr, node: &mut E) -> std::io::Result<()> {
//!     let mut buf = [0u8; 2048];
//!     loop {
//!         // 1. Send what the endpoint queued.
//!         while let Some(t) = node.poll_transmit() {
//!             socket.send_to(&t.payload, t.dst)?;
//!         }
//!         // 2. Act on its events (typed: here `health::HealthEvent`, or as a `telcp::Event`).
//!         while let Some(event) = node.poll_event() {
//!             let event: telcp::Event = event.into();
//!             println!("{event:?}");
//!         }
//!         // 2b. Take the user data it received (PPP frames at a LAC or LNS; none here).
//!         while let Some(data) = node.poll_data() {
//!             let data: telcp::Data = data.into();
//!             println!("{data:?}");
//!         }
//!         // 3. Wait for a datagram, but no longer than the next deadline.
//!         let now = Instant::now();
//!         let wait = node.poll_timeout().map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now));
//!         socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
//!         match socket.recv_from(&mut buf) {
//!             Ok((n, from)) => {
//!                 // Bad input is refused inside the protocol; the typed error is for logging.
//!                 if let Err(e) = node.handle_datagram(Instant::now(), from, local, &buf[..n]) {
//!                     eprintln!("refused a datagram from {from}: {e:?} ({:?})", node.stats());
//!                 }
//!             }
//!             Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
//!             Err(e) => return Err(e),
//!         }
//!         // 4. Fire due timers (a call before the deadline is a no-op).
//!         node.handle_timeout(Instant::now());
//!     }
//! }
//!
//! let socket = UdpSocket::bind("127.0.0.1:7000")?;
//! let local = socket.local_addr()?;
//! let peer = "127.0.0.2:7000".parse()?;
//! let config = MonitorConfig::new(NodeId(1), Role::LNS, ClusterKey::new(b"heartbeat secret"), vec![(NodeId(2), peer)]);
//! let mut monitor = Monitor::new(config, Instant::now())?;
//! run(&socket, local, &mut monitor)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The async driver
//!
//! With the feature `tokio`, `telcp::driver::spawn(endpoint, DriverConfig::new(addresses))` runs
//! any endpoint in a tokio task over one UDP socket per local address (a transmit's `src` picks
//! the socket) and tokio timers: it drains transmits, events and user data after every input and
//! sleeps until the next datagram or `poll_timeout`. Events arrive on a bounded channel, an LNS's
//! or a LAC's PPP frames on another (`let (handle, events, data) = spawn(..)`); commands reach
//! the endpoint as closures (`handle.call(|lac, now| lac.open_session(now))`) and PPP frames go
//! in with `handle.send_data(call, frame)`; `shutdown()` hands
//! the endpoint back with the driver's counters. The runnable roles (`examples/lac.rs`, `lns.rs`,
//! `home-agent.rs`, `gateway.rs`, feature `roles`) are built on it; the std loop above stays the
//! smallest complete driver.
//!
//! ## Layout
//!
//! * [`endpoint`]: the [`Endpoint`] trait and the crate-wide [`Event`], [`Error`] and [`Data`].
//! * [`io`]: what every endpoint shares — [`Transmit`], the seeded [`Rng`], [`TimerQueue`], the
//!   bounded [`io::Outbox`], the byte [`io::Reader`], the HMAC-MD5 key and envelope, the replay
//!   window, rate limits, and [`Node`].
//! * [`health`]: heartbeats, failure detection, the load table, [`health::Monitor`].
//! * [`l2tp`], [`mip`], [`steering`]: the three subsystems, each with its `wire` codecs.
//!
//! ## Errors
//!
//! Each endpoint returns a typed, `#[non_exhaustive]` error (`Clone + PartialEq + Eq`, `Display`);
//! no error carries a string. One concept has one variant name across subsystems:
//! `OutOfRange(ConfigField)` for a configuration field out of range, `Full(..)` for a full table,
//! `UnmatchedReply` / `UnauthenticatedReply` for a reply that matches nothing or fails
//! authentication, `Health(..)` for a refused heartbeat or health configuration, `Entropy(..)`
//! when the OS gave no seed, and in every codec `Truncated { offset, field, .. }`,
//! `Invalid { offset, field }`, `BadLength { offset, field, declared, .. }` and
//! `UnsupportedVersion { .. }`.
//!
//! ## Where the vocabulary of the claims lives
//!
//! | the claims say | code |
//! | --- | --- |
//! | contact LNS, load-balancing LNSs, the table of pool LNSs, heartbeats | [`l2tp::Lns`] (contact role), [`l2tp::pool::LnsPool`], [`health`] |
//! | virtual LNS, the identity of the contact LNS within it | [`l2tp::pool::VirtualLns`] |
//! | LAC available for load balancing (AVP in ICRQ/SCCRQ), next LNS address in ICRP | [`l2tp::wire::AvpValue::LoadBalanceCapable`], [`l2tp::wire::AvpValue::RedirectTarget`], [`l2tp::Lac`] |
//! | standard redirect (Result 2, Error 9 "Try another directed") | [`l2tp::wire::ResultCode`], [`l2tp::wire::ErrorCode`] |
//! | virtual HA address, first and second HA, temporary and permanent binding | [`mip::HomeAgent`], [`mip::binding::Binding`], [`mip::binding::BindingState`] |
//! | health and load information, backup HA, binding sync, routing update | [`mip::cluster`], [`health`], [`mip::Event::AdvertiseRoute`] |
//! | line interface, switch processor, processors, virtual identifier, backup | [`steering::LineInterface`], [`steering::SwitchProcessor`], [`steering::Processor`], [`steering::VirtualId`], [`steering::VidLayout`] |
//!
//! ## Features
//!
//! * `sim`: `telcp::sim`, a deterministic in-process network (seeded loss, duplication, reordering,
//!   delay, partitions, crashes) used by the tests, the fuzz targets and the demo.
//! * `pcap`: `telcp::pcap`, a pcap writer with real Ethernet/IPv4/IPv6/UDP framing.
//! * `proptest`: `telcp::strategies`, proptest generators for every wire message.
//! * `tokio`: `driver`, the async driver over tokio UDP sockets and timers.
//! * `roles`: `tokio` plus serde, toml and tracing-subscriber, for the runnable role examples.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod endpoint;
pub mod health;
pub mod io;
pub mod l2tp;
pub mod mip;
pub mod replica;
pub mod steering;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod driver;
#[cfg(feature = "pcap")]
pub mod pcap;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "proptest")]
pub mod strategies;

#[doc(hidden)]
pub mod harness;

pub use endpoint::{Data, Endpoint, Error, Event, SendData, Stats};
pub use io::{MacAddr, Node, Rng, TimerQueue, Transmit};
/// The `ipnetwork` crate, re-exported: its prefix types appear in the public API (the Home
/// Agent's virtual network, route events, the processors' UE pools), so callers name them without
/// pinning the same version themselves.
pub use ipnetwork;
