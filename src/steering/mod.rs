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

pub use error::{ConfigError, ConfigField, FabricKind, InputError};
pub use line::{LineConfig, LineEvent, LineInterface, LineStats, Verdict};
pub use processor::{Processor, ProcessorConfig, ProcessorEvent, ProcessorStats};
pub use rules::{RuleSet, Tc};
pub use switch::{SwitchConfig, SwitchEvent, SwitchProcessor, SwitchStats};

pub use vid::{VidLayout, VirtualId};
