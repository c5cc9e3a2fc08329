//! The fabric codec: messages among line interfaces, the switch processor and processors.
//!
//! These cross cards in a real gateway, so they have a wire format of their own, carried in UDP
//! datagrams on the fabric addresses. Health heartbeats ([`crate::health`]) share the same
//! addresses; they are told apart by their own magic prefix.
//!
//! Format version 5. **Every message that can decide state is sealed**: every kind but `Packet`
//! and `Transmit` travels in the authenticated envelope of the cluster messages
//! ([`crate::replica::Envelope`], magic `0xfe 'V' 'F'`, [`SEALED`]), with the fabric's
//! AES-128-CMAC key, derived from the cluster key with its own label ([`MAC_INFO`],
//! [`CmacKey::derive`]). `Packet` and `Transmit` go unsealed, after a four-octet header. All
//! integers are big-endian. An address is a family octet (4 or 6), the IP address (4 or 16
//! octets) and, for a transport address, a two-octet port.
//!
//! ```text
//! sealed (kinds 1-4, 6, 8-13), octet by octet:
//!   0-2    magic 0xfe 'V' 'F'
//!   3      version 5
//!   4      kind (table below)
//!   5-6    reserved, sent 0, ignored
//!   7-10   sender: node id u32
//!   11-14  sender's incarnation u32
//!   15-22  packet number u64 (per sender and receiver)
//!   23-26  receiver: node id u32 (0xffffffff: every line interface)
//!   27-30  receiver's incarnation u32 (0: not known to the sender)
//!   31..   body (table below)
//!   last 16  AES-128-CMAC (RFC 4493) of every octet before it
//!
//! unsealed (kinds 5 and 7):
//!  octet  0      1      2      3
//!       +------+------+------+------+----------------------
//!       | 0x56 | 0x46 |  5   | kind | body ...
//!       +------+------+------+------+----------------------
//!         'V'    'F'   version
//! ```
//!
//! Sealed: `sender` is the sender's node id (a processor's slot id, the switch processor's
//! `node`, a line interface's [`LineConfig::id`](crate::steering::LineConfig::id)),
//! `incarnation` its incarnation (grows at every restart), `pn` its packet number for that
//! receiver (from 1, never reused within the incarnation), `receiver` the node the message is
//! for (a processor's id, the switch processor's, or [`LINE_INTERFACES`] for every line
//! interface: the switch processor knows them by address), so a message sealed for one
//! processor is refused by another, and `receiver's incarnation` the incarnation of the
//! receiver the sender knows (below), so a message sealed for a receiver before its restart is
//! refused by it after. The CMAC (RFC 4493) covers every octet before it. A receiver
//! ([`FabricSealer::open`], [`FabricSealer::admit`]) checks the MAC in constant time, that it is
//! the receiver, that the sender is one it takes sealed messages from (a line interface and a
//! processor: the switch processor's `node`, the datagram from its address, checked first; the
//! switch processor: the processor slot at the datagram's address under its slot id, or a line
//! interface's address under an id that is no slot's nor its own), that the receiver's
//! incarnation named is its own ([`AuthError::StaleIncarnation`] otherwise; but see the
//! handshake kinds below), and that `(incarnation, pn)` is fresh in that sender's
//! [`ReplayWindow`] (64 packets wide, reset by a higher incarnation, a lower one refused); only
//! then does it act on the body. Otherwise the datagram is refused with
//! [`InputError::NotAuthorized`] (an [`AuthError`]), counted in the machine's
//! `fabric_refused`, and changes nothing (the replay window included); so is a sealed kind that
//! arrives unsealed. A datagram the fabric duplicates is refused the same way the second time
//! (and counted).
//!
//! **The receiver's incarnation.** Each machine names, for each peer it seals for, the highest
//! incarnation it has seen that peer under in what it admitted (or 0): the switch processor a
//! processor's from its `VidRequest`s, heartbeats and sealed messages, a line interface's from
//! its `TableAck`s (each line interface its own, though all are the receiver
//! [`LINE_INTERFACES`]); a processor and a line interface the switch processor's from its
//! sealed messages (a processor from its heartbeats too). The switch processor's relays of
//! `Sync` and `SyncAck` name the target processor's. Two **handshake kinds** that the switch
//! processor takes are admitted by it whatever receiver incarnation they name: `VidRequest` and
//! `TableAck`, the messages by which a processor and a line interface make themselves known,
//! which cannot name the incarnation of a switch processor that restarted since they last heard
//! from it. The exemption is the switch processor's own, made in its admission
//! ([`FabricSealer::admit`] with no incarnation for those two kinds); a processor and a line
//! interface, which never take those kinds, refuse one sealed for an earlier incarnation of
//! theirs as stale like any other message. Their replay is harmless: a `VidRequest` of an older processor incarnation is
//! superseded by the newer one (the switch processor answers no incarnation below one it
//! knows, and the replay window refuses it), and a `TableAck` is taken only as fresh in the
//! line interface's window and its version from an earlier switch processor incarnation is
//! below every current version (the versions of incarnation `k` start at `k << 32`), so at
//! worst the line interface is sent the current table again.
//!
//! **Restarts.** A restarted receiver refuses what was sealed for its earlier incarnation:
//! a processor a `Directed`, `VidAssign`, `Sync` or `Purge` captured before its restart, a line
//! interface a `TableUpdate` ([`AuthError::StaleIncarnation`]). A line interface whose table is
//! still version 0 (new, or restarted) says so: a sealed `TableAck { version: 0 }` at its first
//! timeout and every [`LineConfig::hello_interval`](crate::steering::LineConfig::hello_interval)
//! until it holds a table; the switch processor, on a `TableAck` under a higher incarnation than
//! it knew, takes the acknowledged version (lower) as the line interface's and pushes it the
//! current table at once, sealed for that incarnation. A line interface refusing an authentic
//! switch processor message only for the receiver incarnation it names answers with a sealed
//! `TableAck` of the version it holds, so a restarted switch processor (which knows no line
//! interface's incarnation) learns it and pushes again.
//!
//! **Covered, and not.** Covered: a message captured before its *receiver* restarted is refused
//! by the receiver after (this version), one captured before its *sender* restarted by the
//! sender's incarnation in the replay window (as in version 4), a duplicate or a replay within
//! one incarnation of both ends by the window. Not covered: the handshake kinds are not bound
//! to the receiver's incarnation (a `VidRequest` or `TableAck` captured before a switch
//! processor restarted is taken once by the restarted one: harmless, above); within one
//! incarnation of both ends, a message captured and withheld (never delivered) is taken if it
//! arrives before 64 newer ones from its sender push it out of the window; each replay of an
//! authentic message sealed for an earlier incarnation of a line interface draws one `TableAck`
//! to the switch processor while the line interface's
//! [`LineConfig::stale_answers`](crate::steering::LineConfig::stale_answers) allows (it changes
//! nothing there within one incarnation of the line interface); `Packet` and `Transmit` are
//! not sealed (below).
//!
//! **The switch processor relays** `Sync` and `SyncAck` between processors by opening what the
//! processor sealed and sealing it again as itself for the receiver: a processor takes sealed
//! messages from the switch processor alone.
//!
//! **`Packet` and `Transmit` stay unsealed**, trusted by the address they come from, as before:
//! they relay the protocol datagrams of the outside network (every data packet: a CMAC of up to
//! 1,400 octets per packet at both ends would cost the data plane its speed), whose content
//! carries the outside network's own trust (a GTP peer's TEIDs, the sessions' state at the
//! processor), and they change no fabric state: no table, VID, copy or placement. A line
//! interface sends a `Transmit` outside only from the switch processor's address or a
//! processor's in its table; the switch processor takes a `Packet` only from a line interface's
//! address; a processor takes a peer's Error Indication only as the switch processor relays it.
//!
//! ```text
//! kind  message          direction (sealed?)  body
//!  1    VidRequest       processor -> switch  processor u32, incarnation u32, current vid u16 (0: none)
//!  2    VidAssign        switch -> processor  processor u32, incarnation u32, vid u16
//!  3    TableUpdate      switch -> line       version u64, count u16, count x (vid u16, state u8, sockaddr)
//!  4    TableAck         line -> switch       version u64
//!  5    Packet           line -> switch/proc, from sockaddr, to sockaddr, datagram (rest)
//!                        switch -> proc (a peer's Error Indication, relayed)
//!  6    Directed         switch -> processor  backup vid u16 (0: none), from sockaddr, to sockaddr, datagram
//!  7    Transmit         proc/switch -> line  from sockaddr, to sockaddr, datagram (rest)
//!  8    Sync             proc -> switch -> backup   op u8 (1 upsert, 2 delete), session record
//!  9    SyncAck          backup -> switch -> proc   teid u32, version u32
//! 10    Purge            switch -> processor  id u32, count u16, count x teid u32
//! 11    PurgeAck         processor -> switch  id u32
//! 12    PeerRecovery     processor -> switch  protocol u8, peer ip, recovery u32
//! 13    PeerRecoveryAck  switch -> processor  protocol u8, peer ip, recovery u32
//!
//! sealed: every kind but 5 (Packet) and 7 (Transmit)
//!
//! session record: teid u32, version u32, peer_teid_c u32, peer_teid_u u32, peer_c ip,
//!                 peer_u ip, imsi [8], nsapi u8, ue_addr ipv4 [4], protocol u8
//!                 (1 GTPv1, 2 GTPv2-C, 3 PFCP), peer_seid u64
//! table entry state: 1 up, 2 down (unassigned VIDs are absent)
//! ```
//!
//! A `TableUpdate` is a full snapshot, so a line interface applies it as a whole (atomically)
//! when its version is newer than the one it holds, and acknowledges it either way.

use super::error::{AuthError, FabricKind, InputError};
use super::gtp::Imsi;
use super::vid::VirtualId;
use crate::health::{ClusterKey, NodeId};
use crate::io::Reader;
use crate::replica::{CmacKey, Envelope, HEADER_LEN, Header, ReplayWindow};
use bytes::BufMut;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The first two octets of every fabric message.
pub const MAGIC: [u8; 2] = *b"VF";
/// The fabric format version (2: session records name their protocol and the peer's SEID; 3:
/// `Purge` and `PurgeAck`, the sessions of a restarted peer, TS 23.007; 4: every kind but
/// `Packet` and `Transmit` sealed, [`SEALED`]; 5: the seal names the receiver's incarnation).
pub const VERSION: u8 = 5;

/// The envelope of sealed fabric messages ([`crate::replica::Envelope`]): magic `0xfe 'V' 'F'`,
/// version [`VERSION`]; its kind octet is the fabric kind (module docs).
pub const SEALED: Envelope = Envelope::new(*b"\xfeVF", VERSION);

/// The label of the fabric's AES-128-CMAC key, derived from the cluster key
/// ([`CmacKey::derive`]): a key of its own, apart from the heartbeats' HMAC-MD5 key and the other
/// subsystems' CMAC keys. (The label of format version 4, kept: the version octet is under the
/// MAC.)
pub const MAC_INFO: &[u8] = b"telcp steering fabric v4: AES-128-CMAC";

/// The receiver a switch processor seals its messages to line interfaces for: every line
/// interface alike (they all get the same tables; the switch processor knows them by address,
/// not by node id).
pub const LINE_INTERFACES: NodeId = NodeId(u32::MAX);

/// Why a fabric datagram could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FabricError {
    /// The datagram ended inside `field`.
    #[error("truncated {field} at byte {offset}")]
    Truncated {
        /// Byte offset of the field.
        offset: usize,
        /// The field.
        field: Field,
    },
    /// A field holds a value the format does not allow.
    #[error("invalid {field} at byte {offset}")]
    Invalid {
        /// Byte offset of the field.
        offset: usize,
        /// The field.
        field: Field,
    },
    /// Octets left after a message whose body has a fixed end.
    #[error("{extra} trailing octets at byte {offset}")]
    Trailing {
        /// Byte offset of the first extra octet.
        offset: usize,
        /// How many.
        extra: usize,
    },
}

crate::io::reader::wire_fields! {
    /// A field of a fabric message, named in its [`FabricError`]s.
    pub enum Field for FabricError {} {
        AddressFamily => "address family",
        Nsapi => "NSAPI",
        Version => "version",
        Kind => "kind",
        EntryState => "entry state",
        SyncOp => "sync op",
        Port => "port",
        CurrentVid => "current vid",
        EntryCount => "entry count",
        BackupVid => "backup vid",
        Teid => "teid",
        PeerTeidC => "peer TEID C",
        PeerTeidU => "peer TEID U",
        Processor => "processor",
        Incarnation => "incarnation",
        Ipv4Address => "IPv4 address",
        Ipv6Address => "IPv6 address",
        Imsi => "IMSI",
        UeAddress => "UE address",
        Protocol => "protocol",
        PeerSeid => "peer SEID",
        PurgeId => "purge id",
        PurgeCount => "purge count",
        Recovery => "recovery",
        Receiver => "receiver",
        ReceiverIncarnation => "receiver incarnation",
        Magic => "magic",
        Datagram => "datagram",
        Vid => "vid",
        EntryVid => "entry vid",
    }
}

/// Whether `data` starts like a fabric message of this version: unsealed (magic `VF` and
/// version) or sealed ([`SEALED`]'s magic and version).
pub fn is_fabric(data: &[u8]) -> bool {
    data.get(..3) == Some(&[MAGIC[0], MAGIC[1], VERSION][..])
        || (SEALED.is_mine(data) && data.get(3) == Some(&VERSION))
}

/// The state of a VID in a line interface's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VidState {
    /// The processor is operational: steer to it.
    Up,
    /// The processor is not operational: steer its sessions to their backup.
    Down,
}

/// One entry of a table update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableEntry {
    /// The VID.
    pub vid: VirtualId,
    /// Its state.
    pub state: VidState,
    /// The fabric address of the processor holding it.
    pub addr: SocketAddr,
}

/// The protocol a session was set up with, which says how a [`SessionRecord`]'s fields are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SessionProtocol {
    /// GTPv1-C (TS 29.060): a PDP context set up by Create PDP Context.
    #[default]
    Gtpv1,
    /// GTPv2-C (TS 29.274): a PDN connection set up by Create Session (S11/S5).
    Gtpv2,
    /// PFCP (TS 29.244): a PFCP session set up by Session Establishment (N4/Sx).
    Pfcp,
}

impl SessionProtocol {
    fn code(self) -> u8 {
        match self {
            SessionProtocol::Gtpv1 => 1,
            SessionProtocol::Gtpv2 => 2,
            SessionProtocol::Pfcp => 3,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => SessionProtocol::Gtpv1,
            2 => SessionProtocol::Gtpv2,
            3 => SessionProtocol::Pfcp,
            _ => return None,
        })
    }
}

/// The state of one session as the primary processor replicates it to the backup: one shape
/// for the three protocols ([`SessionProtocol`]), keyed by the gateway's TEID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionRecord {
    /// The gateway's TEID for the session, carrying the primary and backup VIDs: GTPv1's for
    /// control and user plane; GTPv2-C's for the S11/S4 control plane and the S1-U user plane;
    /// PFCP's F-TEID allocated for CHOOSE, whose VIDs and local index the session's SEID
    /// carries too ([`VidLayout::seid_layout`](crate::steering::VidLayout::seid_layout)).
    pub teid: u32,
    /// Bumped on every change; a backup keeps the highest it has seen.
    pub version: u32,
    /// The peer's control-plane TEID (GTPv1 TEID Control Plane, GTPv2-C sender F-TEID); 0 for
    /// PFCP.
    pub peer_teid_c: u32,
    /// The peer's user-plane TEID (GTPv1 TEID Data I, GTPv2-C S1-U eNodeB F-TEID, PFCP Outer
    /// Header Creation of the downlink FAR); 0 until known.
    pub peer_teid_u: u32,
    /// The peer's control-plane address.
    pub peer_c: IpAddr,
    /// The peer's user-plane address.
    pub peer_u: IpAddr,
    /// The subscriber (every octet `0xff` when the set-up named none, as PFCP's does).
    pub imsi: Imsi,
    /// The NSAPI (GTPv1) or EPS Bearer ID (GTPv2-C); 0 for PFCP.
    pub nsapi: u8,
    /// The End User Address / PDN address assigned (PFCP: the UE IP Address, or unspecified).
    pub ue_addr: Ipv4Addr,
    /// The protocol the session was set up with.
    pub protocol: SessionProtocol,
    /// The peer's SEID (the CP function's F-SEID, PFCP); 0 for GTP.
    pub peer_seid: u64,
}

/// One fabric message. Datagrams are borrowed from the input when parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FabricMessage<'a> {
    /// A processor asks for its VID (at start, and again after a restart).
    VidRequest {
        /// The processor's slot identity, its health node id (4 octets on the wire).
        processor: NodeId,
        /// Its incarnation (bumped at every restart).
        incarnation: u32,
        /// The VID it already holds, when it asks again because the switch processor restarted
        /// (its sessions carry that VID, so it asks to keep it).
        current: Option<VirtualId>,
    },
    /// The switch processor's answer.
    VidAssign {
        /// The processor's slot identity, its health node id (4 octets on the wire).
        processor: NodeId,
        /// The incarnation this answers.
        incarnation: u32,
        /// The VID assigned.
        vid: VirtualId,
    },
    /// A versioned snapshot of the VID associations, pushed to every line interface.
    TableUpdate {
        /// The version; higher replaces lower.
        version: u64,
        /// Every assigned VID.
        entries: Vec<TableEntry>,
    },
    /// A line interface holds `version` (or newer).
    TableAck {
        /// The version held.
        version: u64,
    },
    /// A datagram a line interface received from outside, passed on unchanged (by the line
    /// interface, or by the switch processor relaying a peer's Error Indication to processors).
    Packet {
        /// The outside sender.
        from: SocketAddr,
        /// The gateway address it was sent to.
        to: SocketAddr,
        /// The datagram.
        data: Cow<'a, [u8]>,
    },
    /// A set-up request the switch processor directs to the processor it selected.
    Directed {
        /// The backup processor's VID, to be carried in the identifiers the processor allocates.
        backup: Option<VirtualId>,
        /// The outside sender.
        from: SocketAddr,
        /// The gateway address it was sent to.
        to: SocketAddr,
        /// The datagram.
        data: Cow<'a, [u8]>,
    },
    /// A datagram for a line interface to send outside.
    Transmit {
        /// The gateway address it must come from.
        from: SocketAddr,
        /// The outside destination.
        to: SocketAddr,
        /// The datagram.
        data: Cow<'a, [u8]>,
    },
    /// Session state replication.
    Sync {
        /// True when the session is gone.
        delete: bool,
        /// The session.
        record: SessionRecord,
    },
    /// The backup holds `version` of the session `teid`.
    SyncAck {
        /// The session's TEID.
        teid: u32,
        /// The version held.
        version: u32,
    },
    /// The switch processor asks every processor to delete, without replicating the deletion,
    /// the sessions (own or replicated) with these TEIDs: their peer restarted (TS 23.007
    /// sections 18 and 19A) or its path failed. Repeated until acknowledged; deleting is
    /// idempotent, so a repeat deletes nothing more.
    Purge {
        /// Names this batch in its acknowledgement.
        id: u32,
        /// The sessions' TEIDs (at most 65 535; more are not written).
        teids: Vec<u32>,
    },
    /// A processor has deleted the sessions of the `Purge` batch `id` it held.
    PurgeAck {
        /// The batch.
        id: u32,
    },
    /// A processor saw a restart value (Recovery) in a message steered to it, which never
    /// passes the switch processor's path table (a Modify Bearer Request, an Update PDP Context
    /// Request): the switch processor compares it with the value it stores for the peer as if
    /// it had received the message (TS 23.007 section 18). Repeated until acknowledged.
    PeerRecovery {
        /// The protocol of the message.
        protocol: SessionProtocol,
        /// The peer's control-plane address (the session's, else the message's source).
        peer: IpAddr,
        /// The restart value.
        recovery: u32,
    },
    /// The switch processor has taken the `PeerRecovery` with these fields.
    PeerRecoveryAck {
        /// The protocol.
        protocol: SessionProtocol,
        /// The peer.
        peer: IpAddr,
        /// The restart value.
        recovery: u32,
    },
}

fn put_ip(buf: &mut impl BufMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            buf.put_u8(4);
            buf.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            buf.put_u8(6);
            buf.put_slice(&a.octets());
        }
    }
}

fn put_sock(buf: &mut impl BufMut, s: SocketAddr) {
    put_ip(buf, s.ip());
    buf.put_u16(s.port());
}

fn ip_len(ip: IpAddr) -> usize {
    if ip.is_ipv4() { 5 } else { 17 }
}

fn read_ip(r: &mut Reader<'_>) -> Result<IpAddr, FabricError> {
    let at = r.offset();
    match r.u8(Field::AddressFamily)? {
        4 => {
            let o = r.bytes(4, Field::Ipv4Address)?;
            Ok(IpAddr::V4(Ipv4Addr::from(
                <[u8; 4]>::try_from(o).unwrap_or([0; 4]),
            )))
        }
        6 => {
            let o = r.bytes(16, Field::Ipv6Address)?;
            Ok(IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(o).unwrap_or([0; 16]),
            )))
        }
        _ => Err(FabricError::Invalid {
            offset: at,
            field: Field::AddressFamily,
        }),
    }
}

fn read_sock(r: &mut Reader<'_>) -> Result<SocketAddr, FabricError> {
    let ip = read_ip(r)?;
    let port = r.u16(Field::Port)?;
    Ok(SocketAddr::new(ip, port))
}

fn read_vid(r: &mut Reader<'_>, field: Field) -> Result<VirtualId, FabricError> {
    let at = r.offset();
    VirtualId::new(r.u16(field)?).ok_or(FabricError::Invalid { offset: at, field })
}

const RECORD_FIXED: usize = 4 + 4 + 4 + 4 + 8 + 1 + 4 + 1 + 8;

impl SessionRecord {
    fn encoded_len(&self) -> usize {
        RECORD_FIXED + ip_len(self.peer_c) + ip_len(self.peer_u)
    }

    fn emit(&self, buf: &mut impl BufMut) {
        buf.put_u32(self.teid);
        buf.put_u32(self.version);
        buf.put_u32(self.peer_teid_c);
        buf.put_u32(self.peer_teid_u);
        put_ip(buf, self.peer_c);
        put_ip(buf, self.peer_u);
        buf.put_slice(&self.imsi.0);
        buf.put_u8(self.nsapi);
        buf.put_slice(&self.ue_addr.octets());
        buf.put_u8(self.protocol.code());
        buf.put_u64(self.peer_seid);
    }

    fn parse(r: &mut Reader<'_>) -> Result<Self, FabricError> {
        let teid = r.u32(Field::Teid)?;
        let version = r.u32(Field::Version)?;
        let peer_teid_c = r.u32(Field::PeerTeidC)?;
        let peer_teid_u = r.u32(Field::PeerTeidU)?;
        let peer_c = read_ip(r)?;
        let peer_u = read_ip(r)?;
        let imsi = Imsi(<[u8; 8]>::try_from(r.bytes(8, Field::Imsi)?).unwrap_or([0xff; 8]));
        let nsapi = r.u8(Field::Nsapi)?;
        let ue = r.bytes(4, Field::UeAddress)?;
        let at = r.offset();
        let protocol =
            SessionProtocol::from_code(r.u8(Field::Protocol)?).ok_or(FabricError::Invalid {
                offset: at,
                field: Field::Protocol,
            })?;
        let peer_seid = r.u64(Field::PeerSeid)?;
        Ok(SessionRecord {
            teid,
            version,
            peer_teid_c,
            peer_teid_u,
            peer_c,
            peer_u,
            imsi,
            nsapi,
            ue_addr: Ipv4Addr::from(<[u8; 4]>::try_from(ue).unwrap_or([0; 4])),
            protocol,
            peer_seid,
        })
    }
}

impl<'a> FabricMessage<'a> {
    fn kind(&self) -> u8 {
        match self {
            FabricMessage::VidRequest { .. } => 1,
            FabricMessage::VidAssign { .. } => 2,
            FabricMessage::TableUpdate { .. } => 3,
            FabricMessage::TableAck { .. } => 4,
            FabricMessage::Packet { .. } => 5,
            FabricMessage::Directed { .. } => 6,
            FabricMessage::Transmit { .. } => 7,
            FabricMessage::Sync { .. } => 8,
            FabricMessage::SyncAck { .. } => 9,
            FabricMessage::Purge { .. } => 10,
            FabricMessage::PurgeAck { .. } => 11,
            FabricMessage::PeerRecovery { .. } => 12,
            FabricMessage::PeerRecoveryAck { .. } => 13,
        }
    }

    /// Octets [`FabricMessage::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        let sock = |s: &SocketAddr| ip_len(s.ip()) + 2;
        4 + match self {
            FabricMessage::VidRequest { .. } => 10,
            FabricMessage::VidAssign { .. } => 10,
            FabricMessage::TableUpdate { entries, .. } => {
                10 + entries.iter().map(|e| 3 + sock(&e.addr)).sum::<usize>()
            }
            FabricMessage::TableAck { .. } => 8,
            FabricMessage::Packet { from, to, data }
            | FabricMessage::Transmit { from, to, data } => sock(from) + sock(to) + data.len(),
            FabricMessage::Directed { from, to, data, .. } => {
                2 + sock(from) + sock(to) + data.len()
            }
            FabricMessage::Sync { record, .. } => 1 + record.encoded_len(),
            FabricMessage::SyncAck { .. } => 8,
            FabricMessage::Purge { teids, .. } => 6 + 4 * teids.len().min(usize::from(u16::MAX)),
            FabricMessage::PurgeAck { .. } => 4,
            FabricMessage::PeerRecovery { peer, .. }
            | FabricMessage::PeerRecoveryAck { peer, .. } => 1 + ip_len(*peer) + 4,
        }
    }

    /// Writes the message unsealed: the four-octet header, then the body (module docs). A table
    /// update holds at most 65 535 entries (a VID is 16 bits), more are not written. Only
    /// `Packet` and `Transmit` are taken unsealed; the other kinds go sealed
    /// ([`FabricSealer::seal`]).
    pub fn emit(&self, buf: &mut impl BufMut) {
        buf.put_slice(&MAGIC);
        buf.put_u8(VERSION);
        buf.put_u8(self.kind());
        self.emit_body(buf);
    }

    /// Whether this kind must be sealed (module docs): every kind but `Packet` and `Transmit`.
    pub fn is_sealed_kind(&self) -> bool {
        !matches!(
            self,
            FabricMessage::Packet { .. } | FabricMessage::Transmit { .. }
        )
    }

    /// Whether this is a handshake kind, which the switch processor admits whatever receiver
    /// incarnation its seal names (module docs; [`FabricSealer::admit`] with `None`):
    /// `VidRequest` and `TableAck`, by which a processor and a line interface make themselves
    /// known to a switch processor whose incarnation they may not know yet. No other receiver
    /// takes them, and none exempts them.
    pub fn is_handshake_kind(&self) -> bool {
        matches!(
            self,
            FabricMessage::VidRequest { .. } | FabricMessage::TableAck { .. }
        )
    }

    /// Writes the body alone (the octets after the kind, module docs).
    fn emit_body(&self, buf: &mut impl BufMut) {
        match self {
            FabricMessage::VidRequest {
                processor,
                incarnation,
                current,
            } => {
                buf.put_u32(processor.0);
                buf.put_u32(*incarnation);
                buf.put_u16(current.map_or(0, VirtualId::get));
            }
            FabricMessage::VidAssign {
                processor,
                incarnation,
                vid,
            } => {
                buf.put_u32(processor.0);
                buf.put_u32(*incarnation);
                buf.put_u16(vid.get());
            }
            FabricMessage::TableUpdate { version, entries } => {
                buf.put_u64(*version);
                let n = entries.len().min(usize::from(u16::MAX));
                buf.put_u16(u16::try_from(n).unwrap_or(u16::MAX));
                for e in entries.iter().take(n) {
                    buf.put_u16(e.vid.get());
                    buf.put_u8(match e.state {
                        VidState::Up => 1,
                        VidState::Down => 2,
                    });
                    put_sock(buf, e.addr);
                }
            }
            FabricMessage::TableAck { version } => buf.put_u64(*version),
            FabricMessage::Packet { from, to, data }
            | FabricMessage::Transmit { from, to, data } => {
                put_sock(buf, *from);
                put_sock(buf, *to);
                buf.put_slice(data);
            }
            FabricMessage::Directed {
                backup,
                from,
                to,
                data,
            } => {
                buf.put_u16(backup.map_or(0, VirtualId::get));
                put_sock(buf, *from);
                put_sock(buf, *to);
                buf.put_slice(data);
            }
            FabricMessage::Sync { delete, record } => {
                buf.put_u8(if *delete { 2 } else { 1 });
                record.emit(buf);
            }
            FabricMessage::SyncAck { teid, version } => {
                buf.put_u32(*teid);
                buf.put_u32(*version);
            }
            FabricMessage::Purge { id, teids } => {
                buf.put_u32(*id);
                let n = teids.len().min(usize::from(u16::MAX));
                buf.put_u16(u16::try_from(n).unwrap_or(u16::MAX));
                for t in teids.iter().take(n) {
                    buf.put_u32(*t);
                }
            }
            FabricMessage::PurgeAck { id } => buf.put_u32(*id),
            FabricMessage::PeerRecovery {
                protocol,
                peer,
                recovery,
            }
            | FabricMessage::PeerRecoveryAck {
                protocol,
                peer,
                recovery,
            } => {
                buf.put_u8(protocol.code());
                put_ip(buf, *peer);
                buf.put_u32(*recovery);
            }
        }
    }

    /// Emits into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.emit(&mut v);
        v
    }

    /// Parses one fabric message filling the whole datagram.
    pub fn parse(data: &'a [u8]) -> Result<FabricMessage<'a>, FabricError> {
        let mut r = Reader::new(data);
        let magic = r.bytes(2, Field::Magic)?;
        if magic != MAGIC {
            return Err(FabricError::Invalid {
                offset: 0,
                field: Field::Magic,
            });
        }
        if r.u8(Field::Version)? != VERSION {
            return Err(FabricError::Invalid {
                offset: 2,
                field: Field::Version,
            });
        }
        let kind = r.u8(Field::Kind)?;
        Self::parse_body(kind, 3, r)
    }

    /// Parses the body of a message of `kind` (an octet at offset `at_kind`) from `r` to its
    /// end.
    fn parse_body(
        kind: u8,
        at_kind: usize,
        mut r: Reader<'a>,
    ) -> Result<FabricMessage<'a>, FabricError> {
        let msg = match kind {
            1 => FabricMessage::VidRequest {
                processor: NodeId(r.u32(Field::Processor)?),
                incarnation: r.u32(Field::Incarnation)?,
                current: VirtualId::new(r.u16(Field::CurrentVid)?),
            },
            2 => FabricMessage::VidAssign {
                processor: NodeId(r.u32(Field::Processor)?),
                incarnation: r.u32(Field::Incarnation)?,
                vid: read_vid(&mut r, Field::Vid)?,
            },
            3 => {
                let version = r.u64(Field::Version)?;
                let n = r.u16(Field::EntryCount)?;
                let mut entries = Vec::with_capacity(usize::from(n).min(r.remaining() / 8));
                for _ in 0..n {
                    let vid = read_vid(&mut r, Field::EntryVid)?;
                    let at = r.offset();
                    let state = match r.u8(Field::EntryState)? {
                        1 => VidState::Up,
                        2 => VidState::Down,
                        _ => {
                            return Err(FabricError::Invalid {
                                offset: at,
                                field: Field::EntryState,
                            });
                        }
                    };
                    let addr = read_sock(&mut r)?;
                    entries.push(TableEntry { vid, state, addr });
                }
                FabricMessage::TableUpdate { version, entries }
            }
            4 => FabricMessage::TableAck {
                version: r.u64(Field::Version)?,
            },
            5 | 7 => {
                let from = read_sock(&mut r)?;
                let to = read_sock(&mut r)?;
                let data = Cow::Borrowed(r.rest());
                r.bytes(r.remaining(), Field::Datagram)?;
                if kind == 5 {
                    FabricMessage::Packet { from, to, data }
                } else {
                    FabricMessage::Transmit { from, to, data }
                }
            }
            6 => {
                let backup = VirtualId::new(r.u16(Field::BackupVid)?);
                let from = read_sock(&mut r)?;
                let to = read_sock(&mut r)?;
                let data = Cow::Borrowed(r.rest());
                r.bytes(r.remaining(), Field::Datagram)?;
                FabricMessage::Directed {
                    backup,
                    from,
                    to,
                    data,
                }
            }
            8 => {
                let at = r.offset();
                let delete = match r.u8(Field::SyncOp)? {
                    1 => false,
                    2 => true,
                    _ => {
                        return Err(FabricError::Invalid {
                            offset: at,
                            field: Field::SyncOp,
                        });
                    }
                };
                FabricMessage::Sync {
                    delete,
                    record: SessionRecord::parse(&mut r)?,
                }
            }
            9 => FabricMessage::SyncAck {
                teid: r.u32(Field::Teid)?,
                version: r.u32(Field::Version)?,
            },
            10 => {
                let id = r.u32(Field::PurgeId)?;
                let n = r.u16(Field::PurgeCount)?;
                let mut teids = Vec::with_capacity(usize::from(n).min(r.remaining() / 4));
                for _ in 0..n {
                    teids.push(r.u32(Field::Teid)?);
                }
                FabricMessage::Purge { id, teids }
            }
            11 => FabricMessage::PurgeAck {
                id: r.u32(Field::PurgeId)?,
            },
            12 | 13 => {
                let at = r.offset();
                let protocol = SessionProtocol::from_code(r.u8(Field::Protocol)?).ok_or(
                    FabricError::Invalid {
                        offset: at,
                        field: Field::Protocol,
                    },
                )?;
                let peer = read_ip(&mut r)?;
                let recovery = r.u32(Field::Recovery)?;
                if kind == 12 {
                    FabricMessage::PeerRecovery {
                        protocol,
                        peer,
                        recovery,
                    }
                } else {
                    FabricMessage::PeerRecoveryAck {
                        protocol,
                        peer,
                        recovery,
                    }
                }
            }
            _ => {
                return Err(FabricError::Invalid {
                    offset: at_kind,
                    field: Field::Kind,
                });
            }
        };
        if !r.is_empty() {
            return Err(FabricError::Trailing {
                offset: r.offset(),
                extra: r.remaining(),
            });
        }
        Ok(msg)
    }

    /// The message a fabric datagram carries, sealed ([`SEALED`]) or not, **its MAC not
    /// checked** nor its replay: for observers (captures, tests, a dissector), never for a
    /// receiver's decisions (a receiver opens with [`FabricSealer::open`] and
    /// [`FabricSealer::admit`]).
    ///
    /// # Errors
    /// As [`FabricMessage::parse`]; a sealed datagram shorter than its header, receiver and tag
    /// is [`FabricError::Truncated`].
    pub fn inspect(data: &'a [u8]) -> Result<FabricMessage<'a>, FabricError> {
        if !SEALED.is_mine(data) {
            return FabricMessage::parse(data);
        }
        let tag = crate::replica::TAG_LEN;
        let (Some(&version), Some(&kind), Some(body)) = (
            data.get(3),
            data.get(4),
            data.get(HEADER_LEN..data.len().saturating_sub(tag)),
        ) else {
            return Err(FabricError::Truncated {
                offset: data.len(),
                field: Field::Receiver,
            });
        };
        if version != VERSION {
            return Err(FabricError::Invalid {
                offset: 3,
                field: Field::Version,
            });
        }
        let mut r = Reader::at(body, HEADER_LEN);
        r.u32(Field::Receiver)?;
        r.u32(Field::ReceiverIncarnation)?;
        FabricMessage::parse_body(kind, 4, r)
    }

    /// Detaches the message from the datagram it was parsed from.
    pub fn into_owned(self) -> FabricMessage<'static> {
        let own = |d: Cow<'_, [u8]>| Cow::Owned(d.into_owned());
        match self {
            FabricMessage::VidRequest {
                processor,
                incarnation,
                current,
            } => FabricMessage::VidRequest {
                processor,
                incarnation,
                current,
            },
            FabricMessage::VidAssign {
                processor,
                incarnation,
                vid,
            } => FabricMessage::VidAssign {
                processor,
                incarnation,
                vid,
            },
            FabricMessage::TableUpdate { version, entries } => {
                FabricMessage::TableUpdate { version, entries }
            }
            FabricMessage::TableAck { version } => FabricMessage::TableAck { version },
            FabricMessage::Packet { from, to, data } => FabricMessage::Packet {
                from,
                to,
                data: own(data),
            },
            FabricMessage::Directed {
                backup,
                from,
                to,
                data,
            } => FabricMessage::Directed {
                backup,
                from,
                to,
                data: own(data),
            },
            FabricMessage::Transmit { from, to, data } => FabricMessage::Transmit {
                from,
                to,
                data: own(data),
            },
            FabricMessage::Sync { delete, record } => FabricMessage::Sync { delete, record },
            FabricMessage::SyncAck { teid, version } => FabricMessage::SyncAck { teid, version },
            FabricMessage::Purge { id, teids } => FabricMessage::Purge { id, teids },
            FabricMessage::PurgeAck { id } => FabricMessage::PurgeAck { id },
            FabricMessage::PeerRecovery {
                protocol,
                peer,
                recovery,
            } => FabricMessage::PeerRecovery {
                protocol,
                peer,
                recovery,
            },
            FabricMessage::PeerRecoveryAck {
                protocol,
                peer,
                recovery,
            } => FabricMessage::PeerRecoveryAck {
                protocol,
                peer,
                recovery,
            },
        }
    }
}

/// What [`FabricSealer::open`] found: a message, and the seal it came under (`None`: an
/// unsealed `Packet` or `Transmit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The envelope's header (sender, its incarnation, packet number), the receiver it names
    /// and the receiver's incarnation it names (0: not known to the sender); `None` for an
    /// unsealed message.
    pub seal: Option<(Header, NodeId, u32)>,
    /// The message.
    pub message: FabricMessage<'a>,
}

/// Seals and opens fabric messages (module docs): the fabric's AES-128-CMAC key derived from
/// the cluster key ([`MAC_INFO`]), this node's id and incarnation, and a packet number per
/// receiver (from 1, never reused within the incarnation). Replay is the receiver's check, with
/// a [`ReplayWindow`] per sender ([`FabricSealer::admit`]). `Debug` hides the key.
#[derive(Debug, Clone)]
pub struct FabricSealer {
    mac: CmacKey,
    node: NodeId,
    incarnation: u32,
    /// The last packet number sealed for each receiver (the peers a machine knows: bounded by
    /// its configuration).
    pns: HashMap<NodeId, u64>,
}

impl FabricSealer {
    /// A sealer for node `node` in `incarnation` (which must grow at every restart, so that the
    /// packet numbers it starts again from are fresh), keyed from the cluster key `key`.
    pub fn new(key: &ClusterKey, node: NodeId, incarnation: u32) -> FabricSealer {
        FabricSealer {
            mac: CmacKey::derive(key, MAC_INFO),
            node,
            incarnation,
            pns: HashMap::new(),
        }
    }

    /// The datagram carrying `msg` to `receiver` (a node id, or [`LINE_INTERFACES`]) in its
    /// incarnation `receiver_incarnation` (the highest this node has seen it under; 0: not
    /// known, which the receiver refuses but for the handshake kinds, module docs): sealed in
    /// [`SEALED`] for a kind that must be ([`FabricMessage::is_sealed_kind`]), with the next
    /// packet number for `receiver`; a `Packet` or `Transmit` unsealed ([`FabricMessage::emit`]).
    pub fn seal(
        &mut self,
        receiver: NodeId,
        receiver_incarnation: u32,
        msg: &FabricMessage<'_>,
    ) -> Vec<u8> {
        if !msg.is_sealed_kind() {
            return msg.to_vec();
        }
        let pn = self.pns.entry(receiver).or_insert(0);
        *pn += 1;
        let h = Header {
            kind: msg.kind(),
            sender: self.node,
            incarnation: self.incarnation,
            pn: *pn,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + 8 + msg.encoded_len() + 16);
        SEALED.seal_into(
            &mut self.mac,
            &h,
            |out| {
                out.put_u32(receiver.0);
                out.put_u32(receiver_incarnation);
                msg.emit_body(out);
            },
            &mut out,
        );
        out
    }

    /// Opens a fabric datagram: a sealed one ([`SEALED`]) is checked (magic, MAC in constant
    /// time, version) and parsed; an unsealed one is parsed, and refused when its kind must be
    /// sealed. Replay, the sender and the receiver are [`FabricSealer::admit`]'s checks.
    ///
    /// # Errors
    /// [`InputError::NotAuthorized`] with [`AuthError::Open`] (bad MAC, truncated, unknown
    /// version) or [`AuthError::Unsealed`]; [`InputError::Fabric`] when the (authenticated, or
    /// unsealed) octets do not parse.
    pub fn open<'a>(&mut self, data: &'a [u8]) -> Result<Opened<'a>, InputError> {
        if !SEALED.is_mine(data) {
            let message = FabricMessage::parse(data)?;
            if message.is_sealed_kind() {
                return Err(InputError::NotAuthorized(AuthError::Unsealed(
                    FabricKind::of(&message),
                )));
            }
            return Ok(Opened {
                seal: None,
                message,
            });
        }
        let (h, body) = SEALED
            .open_with(&mut self.mac, data)
            .map_err(|e| InputError::NotAuthorized(AuthError::Open(e)))?;
        let mut r = Reader::at(body, HEADER_LEN);
        let receiver = NodeId(r.u32(Field::Receiver).map_err(FabricError::from)?);
        let incarnation = r
            .u32(Field::ReceiverIncarnation)
            .map_err(FabricError::from)?;
        let message = FabricMessage::parse_body(h.kind, 4, r)?;
        Ok(Opened {
            seal: Some((h, receiver, incarnation)),
            message,
        })
    }

    /// Admits what [`FabricSealer::open`] found at node `me` in its incarnation `incarnation`:
    /// a sealed message must name `me` as its receiver, come from a sender `window` knows (its
    /// [`ReplayWindow`], `None` for an unknown sender), name `incarnation` as the receiver's
    /// incarnation and be fresh in that window, which then records it. An unsealed message (a
    /// `Packet` or `Transmit`, trusted by address) passes unchecked. Returns the sender.
    ///
    /// `incarnation` is `None` when the receiver takes this message whatever receiver
    /// incarnation it names: the receiver's choice, made per message. Only the switch
    /// processor makes it, for the handshake kinds ([`FabricMessage::is_handshake_kind`],
    /// module docs); a processor and a line interface always pass their own incarnation, so
    /// a handshake kind sealed for an earlier incarnation of one of them is refused as
    /// [`AuthError::StaleIncarnation`] like any other.
    ///
    /// # Errors
    /// [`InputError::NotAuthorized`] with [`AuthError::Misdirected`],
    /// [`AuthError::UnknownSender`], [`AuthError::StaleIncarnation`] or
    /// [`AuthError::Replayed`], checked in that order; the window is then unchanged.
    pub fn admit<'w>(
        (me, incarnation): (NodeId, Option<u32>),
        opened: &Opened<'_>,
        window: impl FnOnce(NodeId) -> Option<&'w mut ReplayWindow>,
    ) -> Result<Option<NodeId>, InputError> {
        let Some((h, receiver, named)) = opened.seal else {
            return Ok(None);
        };
        let refuse = |e| Err(InputError::NotAuthorized(e));
        if receiver != me {
            return refuse(AuthError::Misdirected(receiver));
        }
        let Some(w) = window(h.sender) else {
            return refuse(AuthError::UnknownSender(h.sender));
        };
        if incarnation.is_some_and(|mine| named != mine) {
            return refuse(AuthError::StaleIncarnation { named });
        }
        if !w.admit(&h) {
            return refuse(AuthError::Replayed {
                sender: h.sender,
                incarnation: h.incarnation,
                pn: h.pn,
            });
        }
        Ok(Some(h.sender))
    }
}
