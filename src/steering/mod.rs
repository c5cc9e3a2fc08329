//! Virtual-ID packet steering in a multi-processor gateway.
//!
//! A gateway is one or more line interfaces (the addresses peers talk to), a switch processor and
//! N processors, joined by a fabric. Each processor holds a virtual identifier ([`VirtualId`]) and
//! puts it (and its backup's) into every identifier it allocates: GTP TEIDs, L2TP tunnel and
//! session ids ([`VidLayout`] says which bits). The line interface then steers every packet of a
//! session by those bits alone, with no per-session table and without the switch processor.
//!
//! * [`vid`]: [`VirtualId`] and [`VidLayout`] (32-bit TEIDs, 64-bit PFCP SEIDs, 16-bit L2TP ids).
//! * [`gtp`]: the GTPv1-C/U codec (borrowed parse, emit, the fast path's [`gtp::GtpView`]);
//!   [`gtpv2`] (TS 29.274) and [`pfcp`] (TS 29.244): the 4G and 5G control-plane codecs. GTPv2-C
//!   sessions are steered by their TEID and PFCP sessions by their SEID, exactly as GTPv1.
//! * [`fabric`]: the documented codec of the messages among the machines below.
//! * [`line`](mod@line): [`LineInterface`], the fast path: [`line::VidTable::steer`] -> [`Verdict`].
//! * [`switch`]: [`SwitchProcessor`]: VID manager, selection by load ([`crate::health`]) of a
//!   processor and a different backup, versioned table pushes, session-state relay to backups,
//!   VID reuse only when safe.
//! * [`path`]: path management at the switch processor (TS 23.007): Echo / Heartbeat Requests
//!   to the peers, restart detection by Recovery and Recovery Time Stamp, path failure, and the
//!   purge of a restarted peer's sessions on every processor.
//! * [`limit`]: [`limit::RateLimit`] (re-exported from [`crate::io::limit`]), the token bucket bounding answers to unknown traffic
//!   (Error Indication, Version Not Supported).
//! * [`rules`]: the VID table as kernel and NIC steering rules ([`RuleSet`]; tc `u32` lines with
//!   [`Tc`], ethtool ntuple lines with [`rules::ntuple`]) that follow table updates.
//! * [`ue_pool`]: [`ue_pool::UePool`], the UE address pool sliced by (VID, backup VID), so the
//!   line interface steers downlink IP packets by destination address
//!   ([`LineInterface::steer_downlink`]) with the same table and failover as TEIDs.
//! * [`processor`]: [`Processor`]: asks for its VID at start, answers Create PDP Context, Create
//!   Session and PFCP Session Establishment with TEIDs (and SEIDs) carrying it, serves its
//!   sessions, and its peers' sessions as their backup.
//!
//! The path of a session:
//!
//! ```text
//! SGSN --Create PDP Context Request (TEID 0)--> line --Packet--> switch --Directed(backup)--> processor
//! processor --Sync--> switch --Sync--> backup --SyncAck--> switch --SyncAck--> processor
//! processor --Transmit(Create PDP Context Response, TEIDs = VID|backup VID|local)--> line --> SGSN
//! SGSN --G-PDU / Update / Delete (TEID carries the VID)--> line --Packet--> processor (or its backup
//!                                                             when health has it down)
//! ```
//!
//! ```
//! use telcp::steering::fabric::{TableEntry, VidState};
//! use telcp::steering::gtp::Message;
//! use telcp::steering::line::VidTable;
//! use telcp::steering::{VidLayout, VirtualId, Verdict};
//!
//! let layout = VidLayout::default(); // 8-bit primary VID, 8-bit backup VID, 16-bit local part
//! let (p, b) = (VirtualId::new(4).unwrap(), VirtualId::new(9).unwrap());
//! let addr = "172.16.1.4:4000".parse().unwrap();
//! let table = VidTable::with_entries(layout, None, 1, &[
//!     TableEntry { vid: p, state: VidState::Up, addr },
//! ]);
//! let teid = layout.compose(p, Some(b), 17).unwrap();
//! let g_pdu = Message::g_pdu(teid, &b"user packet"[..]).to_vec().unwrap();
//! assert_eq!(table.steer(&g_pdu), Verdict::Processor { vid: p, backup: false });
//! ```
//!
//! The whole gateway in process: a line interface, the switch processor and two processors on
//! a perfect fabric, virtual time in 100 ms steps. An SGSN's Create PDP Context Request (the
//! mandatory IEs of TS 29.060 section 7.3.1) is answered with TEIDs carrying the primary's and
//! the backup's VIDs; G-PDUs are steered by that TEID; once the primary stops (no heartbeats:
//! Down after the switch processor's misses, 5 s by default) they go to the backup, which
//! serves them from the replicated session.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use std::time::{Duration, Instant};
//! use telcp::health::{ClusterKey, NodeId};
//! use telcp::io::Node;
//! use telcp::steering::gtp::{CreatePdpContextRequest, Imsi, Message, MessageType};
//! use telcp::steering::processor::ProcessorConfig;
//! use telcp::steering::switch::SwitchConfig;
//! use telcp::steering::{LineConfig, LineInterface, Processor, SwitchProcessor};
//! use telcp::steering::{VidLayout, Verdict};
//! use telcp::Transmit;
//!
//! let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
//! let (line_fabric, switch_fabric) = (a("10.9.0.1:5000"), a("10.9.0.2:5000"));
//! let fabric = [a("10.9.0.11:5000"), a("10.9.0.12:5000")]; // processors 11 and 12
//! let (gtp_c, gtp_u) = (a("192.0.2.1:2123"), a("192.0.2.1:2152")); // what peers talk to
//! let (sgsn_c, sgsn_u) = (a("198.51.100.1:2123"), a("198.51.100.1:2152"));
//! let (layout, key) = (VidLayout::default(), ClusterKey::new(b"fabric cluster key"));
//! let mut now = Instant::now();
//! let line_config = LineConfig::new(line_fabric, switch_fabric, layout, NodeId(2), key.clone());
//! let mut line = LineInterface::new(line_config, now)?;
//! let processors = vec![(NodeId(11), fabric[0]), (NodeId(12), fabric[1])];
//! let lines = vec![line_fabric];
//! let config = SwitchConfig::new(NodeId(1), switch_fabric, lines, processors, layout, key.clone());
//! let mut switch = SwitchProcessor::new(config, now)?;
//! let mut procs = Vec::new();
//! for (id, addr) in [(NodeId(11), fabric[0]), (NodeId(12), fabric[1])] {
//!     let pool = "10.0.0.0/8".parse()?; // 8 local bits left: 256 addresses per VID pair
//!     let (switch, line) = (switch_fabric, line_fabric);
//!     let config = ProcessorConfig::new(id, addr, switch, line, layout, pool, key.clone());
//!     procs.push(Processor::new(config, now)?);
//! }
//! let mut alive = [true, true];
//!
//! // Delivers every datagram among the machines until they are quiet (a stopped processor
//! // neither sends nor receives); returns what left for the outside (the SGSN).
//! let run = |now: Instant, line: &mut LineInterface, switch: &mut SwitchProcessor,
//!                procs: &mut [Processor], alive: [bool; 2]| {
//!     let [p11, p12] = procs else { unreachable!() };
//!     let mut nodes: [(&[SocketAddr], &mut dyn Node, bool); 4] = [
//!         (&[line_fabric, gtp_c, gtp_u], line, true),
//!         (&[switch_fabric], switch, true),
//!         (&fabric[..1], p11, alive[0]),
//!         (&fabric[1..], p12, alive[1]),
//!     ];
//!     let mut outside: Vec<Transmit> = Vec::new();
//!     loop {
//!         let mut wire = Vec::new();
//!         for (addrs, node, up) in nodes.iter_mut() {
//!             if *up {
//!                 node.handle_timeout(now); // a no-op before its deadline
//!                 while let Some(t) = node.poll_transmit() {
//!                     wire.push((t.src.unwrap_or(addrs[0]), t));
//!                 }
//!             }
//!         }
//!         if wire.is_empty() {
//!             return outside;
//!         }
//!         for (from, t) in wire {
//!             match nodes.iter_mut().find(|(addrs, ..)| addrs.contains(&t.dst)) {
//!                 Some((_, node, true)) => node.handle_datagram(now, from, t.dst, &t.payload)
//!                     .expect("the machines understand each other"),
//!                 Some((_, _, false)) => {} // lost: the processor is stopped
//!                 None => outside.push(t),
//!             }
//!         }
//!     }
//! };
//! // Start: each processor asks for its VID, the switch processor pushes the table. Until a
//! // processor is Up (`SwitchEvent::ProcessorUp`, at its first heartbeat) a set-up is refused
//! // (Create PDP Context Response, Cause No resources available, 199; `SetupRefused`).
//! for _ in 0..20 {
//!     now += Duration::from_millis(100);
//!     run(now, &mut line, &mut switch, &mut procs, alive);
//! }
//!
//! let sgsn = IpAddr::from([198, 51, 100, 1]);
//! // The elements TS 29.060 section 7.3.1 makes mandatory, and IMSI, TEID Control Plane,
//! // End User Address and APN.
//! let request = CreatePdpContextRequest::new(
//!     Imsi::from_digits("001010123456789"), 0x1000, 5, sgsn,
//! ).message(1);
//! line.handle_datagram(now, sgsn_c, gtp_c, &request.to_vec()?)?;
//! let out = run(now, &mut line, &mut switch, &mut procs, alive);
//! let response = out.iter().find_map(|t| {
//!     let m = Message::parse(&t.payload).ok()?;
//!     (m.message_type() == MessageType::CREATE_PDP_CONTEXT_RESPONSE).then_some(m)
//! });
//! let response = response.expect("the response, to the SGSN");
//! let teid = response.teid_data_i().unwrap(); // carries the primary's and the backup's VIDs
//!
//! let g_pdu = Message::g_pdu(teid, &b"user packet"[..]).to_vec()?;
//! let primary = layout.primary(teid).unwrap();
//! assert_eq!(line.steer(&g_pdu), Verdict::Processor { vid: primary, backup: false });
//!
//! // The primary stops; 8 s later the switch processor has it Down and the table says so.
//! let stopped = [11, 12].iter().position(|&id| switch.vid_of(NodeId(id)) == Some(primary)).unwrap();
//! alive[stopped] = false;
//! for _ in 0..80 {
//!     now += Duration::from_millis(100);
//!     run(now, &mut line, &mut switch, &mut procs, alive);
//! }
//! let backup = layout.backup(teid).unwrap();
//! assert_eq!(line.steer(&g_pdu), Verdict::Processor { vid: backup, backup: true });
//! line.handle_datagram(now, sgsn_u, gtp_u, &g_pdu)?;
//! run(now, &mut line, &mut switch, &mut procs, alive);
//! assert_eq!(procs[1 - stopped].stats().user_packets_backup, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub(crate) mod common;
mod error;
pub mod fabric;
pub mod gtp;
pub mod gtpv2;
pub mod pfcp;
pub use crate::io::limit;
pub mod line;
pub mod path;
pub mod processor;
pub mod rules;
pub mod switch;
pub mod ue_pool;
pub mod vid;

pub use error::{AuthError, ConfigError, ConfigField, FabricKind, InputError};
pub use line::{LineConfig, LineEvent, LineInterface, LineStats, Verdict};
pub use processor::{Processor, ProcessorConfig, ProcessorEvent, ProcessorStats};
pub use rules::{RuleSet, Tc};
pub use switch::{RefusedSetup, SwitchConfig, SwitchEvent, SwitchProcessor, SwitchStats};

pub use vid::{VidLayout, VirtualId};
