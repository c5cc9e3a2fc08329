//! The replicated state of an LNS's tunnels and sessions: what a member of a virtual
//! LNS sends its backup so that the backup can continue the tunnels' control channels and the
//! sessions' data where the member left them (silent failover), and the codec of those records.
//!
//! A [`Record`] is one change: a tunnel or a session as it stands now (upserts), one that went
//! away, or a backup's notice that it took a tunnel over. Records travel as items of the generic
//! acked, authenticated replication ([`crate::replica`]: batches, bulk sync with epochs, the
//! envelope), whose kind octets 4 and 5 (its sync markers) they do not use. Established
//! tunnels are replicated, and sessions from the moment our answer can make them up at the LAC
//! (an incoming call from its ICRP, which waits for the backup's acknowledgement: output commit,
//! `lns::replicate` docs; an outgoing call from its OCCN); a call the LAC never saw answered
//! when its LNS fails is cleared by the LAC's set-up timer, unless the backup sends it again
//! (an answered call's record carries its ICRP's Ns: `tunnel::snapshot` docs). A session record
//! is 16 octets (18 for an answered call), a tunnel record at most 71 (IPv6 addresses), so a replicated session costs far less than the 256 octets per replicated session the design
//! allows. A session whose call has details travels as a [`Record::Call`] instead (below, call
//! details). A call set up or cleared moves its tunnel's control channel sequence numbers; they
//! travel in a 7-octet [`Record::TunnelSequence`] (one per tunnel per batch when the sender
//! coalesces them), not in the whole tunnel record; the record of a call answered carries both
//! ([`Record::SessionSequence`], 20 octets, 22 with an ICRP Ns: one record per set-up).
//!
//! ## Wire format (all integers big-endian)
//!
//! ```text
//! kind (1)  body
//! 2 Tunnel     tunnel (2) peer tunnel (2) peer address local address ns (2) nr (2)
//!              peer window (2) framing capabilities (4) flags (1) [bearer capabilities (4)]
//!              [failover bits (1) recovery time in ms (4)] hello interval in ms (4) epoch (4)
//! 3 Session    tunnel (2) session (2) peer session (2) call serial number (4) flags (1)
//!              data ns (2) data nr (2) [ICRP ns (2)]
//! 6 SessionGone tunnel (2) session (2)
//! 7 TunnelGone tunnel (2)
//! 8 TakenOver  incarnation (4) tunnel (2) epoch (4)
//! 9 TunnelSequence tunnel (2) ns (2) nr (2)
//! 10 Claimed   member (4) incarnation (4) generation (4)
//! 11 SessionSequence  a Session body (as kind 3) ns (2) nr (2): the session and its tunnel's
//!              sequence numbers in one record (as kind 3 then kind 9 of the session's tunnel)
//! 12 Call     a Session body (as kind 3) call flags (1) [ns (2) nr (2)] call details
//! 13 CallUpdate tunnel (2) session (2) call details
//! 0x80..=0xFF  extension kinds: length (2) then that many octets of body
//! 0x80 AddressTaken  length (2) incarnation (4) family (1: 4 or 6) octets (4 or 16)
//! address: family (1: 4 or 6) octets (4 or 16) port (2)
//! tunnel flags: 0x01 peer load-balance capable, 0x02 bearer capabilities present,
//!               0x04 failover capability present (its bits: 0x02 C, 0x01 D; RFC 4951)
//! session flags: 0x01 sequencing on, 0x02 the LAC is load-balance capable, 0x04 answered
//!               (ICRP decided, ICCN not yet taken), 0x08 ICRP ns present (only with 0x04)
//! call flags: 0x01 the tunnel's ns and nr follow
//! call details: count (1), then that many items, each type (1) and value, in this order:
//!   the ICRQ's: 18 Bearer Type (4), 21 Called Number (len (2), octets), 22 Calling Number
//!   (len (2), octets), 23 Sub-Address (len (2), octets), 25 Physical Channel ID (4);
//!   the ICCN's: 19 Framing Type (4), 24 Tx Connect Speed (4), 29 Proxy Authen Type (2),
//!   30 Proxy Authen Name (len (2), octets), 37 Private Group ID (len (2), octets),
//!   38 Rx Connect Speed (4), 39 Sequencing Required (no value)
//! ```
//!
//! ## Call details
//!
//! A backup holds, for each replicated session, the details the LAC gave of its call (RFC 2661
//! 4.4.5, [`CallDetails`]), so that a member that takes a call over can tell whose call it is
//! (accounting, RADIUS and lawful intercept key on the Calling Number): an answered call's
//! record is a [`Record::Call`] with the ICRQ's details (6.6: Bearer Type, Physical Channel ID,
//! Calling and Called Number, Sub-Address) in place of its [`Record::SessionSequence`], and
//! its ICCN sends a [`Record::CallUpdate`] with what the ICCN said (6.8: Connect Speeds,
//! Framing Type, Private Group ID, Sequencing Required, the proxy authentication's type and
//! name): only what changed travels, each octet string once. A bulk sync sends each session
//! with its merged details as a [`Record::Call`].
//!
//! What never travels: the proxy LCP (AVPs 26 to 28) and the proxy authentication's
//! challenge, ID and response (31 to 33). A PAP response is the user's password in clear, and
//! the replication channel is authenticated, not encrypted: secrets never leave in clear. Both
//! only serve the start of PPP, which is over when the call is connected, so a backup has no
//! use for them ([`CallDetails::replicable`]). The codec has no item for them.
//!
//! Items carry an AVP's attribute type and value, in the order above (the ICRQ's, then the
//! ICCN's: an ICCN's details merged into the ICRQ's are the two lists one after the other),
//! each at most once (a record has one encoding); an octet string is at most
//! [`MAX_VALUE_LEN`] octets, as its AVP bounds it; a Proxy Authen Name comes only after a
//! Proxy Authen Type. Anything else is refused ([`RecordError::Invalid`], field
//! [`Field::Details`]), never a panic.
//!
//! Tunnel and Session IDs are non-zero (RFC 2661 3.1); a record naming id 0 is refused.
//!
//! ## Extension kinds (mixed versions)
//!
//! Kinds 2 to 13 carry no length: a receiver must know a kind to find where the next record
//! starts, and a batch with a kind it does not know is refused whole (unacknowledged, so the
//! sender's channel to it stalls). Kinds `0x80` to `0xFF` ([`EXTENSION_KINDS`]) carry their
//! body's length, so a member of an older version skips one it does not know
//! ([`Record::Extension`], counted in `Stats::replicas_unknown`, nothing else changed) and
//! applies the rest of the batch: a record a later version adds whose loss an older member can
//! bear is one of them. [`Record::AddressTaken`] is the first (`0x80`). A known extension's
//! body is exactly its fields (a longer one is refused, [`Field::Extension`]): a record that
//! grows takes a new kind.
//!
//! ## Control channel sequence numbers
//!
//! A tunnel record's `ns` is the Ns of the oldest message the peer has not acknowledged (the next
//! Ns when all are), never the next Ns to send: the peer has acknowledged everything before it, so
//! the peer's next expected Nr is at or after it whatever was sent since. Its `nr` is the next Ns
//! expected from the peer; the peer's next message is at or after it. Both may lag the failed
//! LNS's real counters (HELLOs and ZLBs are not replicated), never lead them; the backup
//! resynchronises from the peer (see [`super::channel::Channel::resume_replica`]).

use super::call::{
    BearerType, CallDetails, FramingType, PackedCallDetails, ProxyAuth, ProxyAuthenType,
};
use super::wire::avp::{AvpType, FailoverCapability, MAX_VALUE_LEN};
use crate::io::Reader;
use bytes::BufMut;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The replicated state of one established tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelRecord {
    /// Our Tunnel ID (the one the LAC puts in its headers).
    pub tunnel: u16,
    /// The LAC's Tunnel ID.
    pub peer_tunnel: u16,
    /// The LAC's address.
    pub peer: SocketAddr,
    /// Our address the LAC talks to: the address a backup must take to continue the tunnel.
    pub local: SocketAddr,
    /// Ns of the oldest message the LAC has not acknowledged (module docs).
    pub ns: u16,
    /// Next Ns expected from the LAC.
    pub nr: u16,
    /// The LAC's Receive Window Size (RFC 2661 4.4.3).
    pub peer_window: u16,
    /// The LAC's Framing Capabilities (RFC 2661 4.4.3).
    pub peer_framing_capabilities: u32,
    /// The LAC's Bearer Capabilities, if it sent them.
    pub peer_bearer_capabilities: Option<u32>,
    /// The LAC said LoadBalanceCapable in its SCCRQ.
    pub peer_load_balance_capable: bool,
    /// The Failover Capability the LAC advertised (RFC 4951), if any: a backup recovers such a
    /// tunnel the RFC 4951 way when the C bit is set.
    pub peer_failover: Option<FailoverCapability>,
    /// HELLO interval of the tunnel, in milliseconds (RFC 2661 6.5).
    pub hello_interval_ms: u32,
    /// Owner generation: 0 for the LNS that accepted the tunnel, one more at each takeover
    /// (a [`Record::TakenOver`] yields only an older generation).
    pub epoch: u32,
}

/// The replicated state of one session, established or answered (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    /// Our Tunnel ID.
    pub tunnel: u16,
    /// Our Session ID.
    pub session: u16,
    /// The LAC's Session ID.
    pub peer_session: u16,
    /// Call Serial Number (RFC 2661 4.4.4).
    pub serial: u32,
    /// Data messages carry Ns/Nr (RFC 2661 5.8).
    pub sequencing: bool,
    /// The LAC said LoadBalanceCapable (ICRQ or SCCRQ).
    pub load_balance_capable: bool,
    /// Next data Ns to send.
    pub data_ns: u16,
    /// Next data Ns expected.
    pub data_nr: u16,
    /// The call is answered (ICRP decided, RFC 2661 7.4.2 wait-connect), not yet connected.
    pub answered: bool,
    /// An answered call's ICRP's Ns in the tunnel's control channel, when it was numbered
    /// (`tunnel::snapshot` docs); `None` for an established call.
    pub icrp_ns: Option<u16>,
}

/// A session's record with its call's details (module docs, call details): what a backup
/// holds to tell, after a takeover, whose call it is (accounting, RADIUS and lawful intercept
/// key on the Calling Number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The session, as [`Record::Session`] gives it.
    pub session: SessionRecord,
    /// Its tunnel's `ns` and `nr`, as [`Record::SessionSequence`] gives them, when the call's
    /// set-up moved them (the record of a call answered).
    pub sequence: Option<(u16, u16)>,
    /// The call's details as they stand: the fields of [`CallDetails::replicable`] only (no
    /// proxy LCP, no proxy authentication challenge, ID or response), packed as the codec
    /// writes them.
    pub details: PackedCallDetails,
}

/// One replicated change, from an LNS to its backup (or, [`Record::TakenOver`], back; or,
/// [`Record::Claimed`], from a member that took over to every member): an item
/// of the generic replication channel ([`crate::replica`], which adds the bulk sync markers).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A tunnel as it stands now (boxed: the records a set-up sends, moved from the table to
    /// the wire and from the wire to the backup's table, stay small).
    Tunnel(Box<TunnelRecord>),
    /// A session as it stands now.
    Session(SessionRecord),
    /// A session is gone.
    SessionGone {
        /// Our Tunnel ID.
        tunnel: u16,
        /// Our Session ID.
        session: u16,
    },
    /// A held tunnel's control channel sequence numbers moved (a call set up or cleared): the
    /// 7-octet update sent with a session record instead of the whole [`TunnelRecord`] (module
    /// docs, control channel sequence numbers). A backup that does not hold the tunnel ignores
    /// it.
    TunnelSequence {
        /// Our Tunnel ID.
        tunnel: u16,
        /// As [`TunnelRecord::ns`].
        ns: u16,
        /// As [`TunnelRecord::nr`].
        nr: u16,
    },
    /// A session as it stands now and its tunnel's control channel sequence numbers, in one
    /// record (a call set up moved both): applied as [`Record::Session`] then
    /// [`Record::TunnelSequence`] of the session's tunnel.
    SessionSequence {
        /// The session.
        session: SessionRecord,
        /// As [`TunnelRecord::ns`] of `session.tunnel`.
        ns: u16,
        /// As [`TunnelRecord::nr`] of `session.tunnel`.
        nr: u16,
    },
    /// A session as it stands now with its call's details (and, with
    /// [`CallRecord::sequence`], its tunnel's sequence numbers): applied as
    /// [`Record::SessionSequence`] (or [`Record::Session`]), the details held replacing any
    /// (boxed: the records of a set-up stay small in memory).
    Call(Box<CallRecord>),
    /// Details that changed on a session's call (the ICCN's, RFC 2661 6.8): merged into those
    /// held for it ([`CallDetails::merge`]); a backup that holds no such session ignores it.
    CallUpdate {
        /// Our Tunnel ID.
        tunnel: u16,
        /// Our Session ID.
        session: u16,
        /// The details that changed (as [`CallRecord::details`], the replicable fields only).
        details: PackedCallDetails,
    },
    /// A tunnel is gone, with its sessions.
    TunnelGone {
        /// Our Tunnel ID.
        tunnel: u16,
    },
    /// The sender (a backup) took over the receiver's `tunnel` of incarnation `incarnation`: the
    /// receiver, if still of that incarnation, yields it.
    TakenOver {
        /// The incarnation of the LNS the tunnel was taken from.
        incarnation: u32,
        /// The tunnel's Tunnel ID.
        tunnel: u16,
        /// The tunnel's owner generation at the sender (see [`TunnelRecord::epoch`]).
        epoch: u32,
    },
    /// The sender took over `member` (of `incarnation`) from the copy that member's bulk sync
    /// `generation` began (`lns::takeover` docs, one owner per tunnel): sent to every member, so
    /// that of two members holding a copy of one member, only the one with the newer copy
    /// (a higher generation; a tie to the lower node id) keeps what it took.
    Claimed {
        /// The node id ([`crate::health::NodeId`]) of the member taken over.
        member: u32,
        /// That member's incarnation.
        incarnation: u32,
        /// The epoch of the member's bulk sync the sender's copy came from: the member numbers
        /// its bulk syncs to all peers in one increasing sequence, so a later backup's copy has
        /// a higher one.
        generation: u32,
    },
    /// The sender took over the tunnels the receiver's former incarnation `incarnation` served
    /// at `addr`, and holds `addr` now (`lns::takeover` docs, restart): sent to a member seen
    /// restarted since, which lost those tunnels with its state and gives the address up.
    AddressTaken {
        /// The incarnation of the LNS the tunnels were taken from.
        incarnation: u32,
        /// Its address those tunnels used (the taker's [`crate::l2tp::Event::TakenOver`]).
        addr: IpAddr,
    },
    /// A record of an extension kind this version does not know (a later version's; module
    /// docs, extension kinds), kept as it came: a receiver applies nothing of it. Written back
    /// as it was read (`kind` in [`EXTENSION_KINDS`]; `body` at most 65,535 octets, the
    /// length field's bound: a longer one is cut there).
    Extension {
        /// The kind octet (`0x80` to `0xFF`; written with its top bit set).
        kind: u8,
        /// The body, without its length.
        body: Vec<u8>,
    },
}

crate::io::reader::wire_fields! {
    /// A field of a [`Record`], named in its [`RecordError`]s.
    pub enum Field for RecordError {} {
        Kind => "kind",
        Incarnation => "incarnation",
        Tunnel => "tunnel",
        PeerTunnel => "peer tunnel",
        Session => "session",
        PeerSession => "peer session",
        Family => "address family",
        Address => "address",
        Port => "port",
        Ns => "ns",
        Nr => "nr",
        PeerWindow => "peer window",
        Framing => "framing capabilities",
        Bearer => "bearer capabilities",
        Flags => "flags",
        Failover => "failover capability",
        Hello => "hello interval",
        Epoch => "epoch",
        Member => "member",
        Generation => "generation",
        Serial => "call serial number",
        Details => "call details",
        Length => "extension length",
        Extension => "extension body",
    }
}

/// Why bytes are not a valid [`Record`]. Offsets count from the record's first octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The record ends inside `field`, which starts at `offset`.
    #[error("truncated in {field} at {offset}")]
    Truncated {
        /// Where the field starts.
        offset: usize,
        /// The field.
        field: Field,
    },
    /// A value the format does not allow (unknown kind or address family, id 0).
    #[error("bad {field} at {offset}")]
    Invalid {
        /// Where the field starts.
        offset: usize,
        /// The field.
        field: Field,
    },
    /// Octets after the record.
    #[error("{0} octets after the record")]
    Trailing(usize),
    /// The replication framing around the records ([`crate::replica`]) is malformed.
    #[error(transparent)]
    Frame(crate::replica::FrameError),
}

const TUNNEL: u8 = 2;
const SESSION: u8 = 3;
const SESSION_GONE: u8 = 6;
const TUNNEL_GONE: u8 = 7;
const TAKEN_OVER: u8 = 8;
const TUNNEL_SEQUENCE: u8 = 9;
const CLAIMED: u8 = 10;
/// Kind octet of [`Record::SessionSequence`] (module docs, wire format).
pub(crate) const SESSION_SEQUENCE: u8 = 11;

/// Kind octet of [`Record::Call`] (module docs, wire format).
pub(crate) const CALL: u8 = 12;
/// Kind octet of [`Record::CallUpdate`] (module docs, wire format).
pub(crate) const CALL_UPDATE: u8 = 13;
/// The kinds whose body follows its length (module docs, extension kinds): a receiver skips
/// one it does not know.
pub const EXTENSION_KINDS: std::ops::RangeInclusive<u8> = 0x80..=0xFF;
/// Kind octet of [`Record::AddressTaken`] (module docs, wire format; an extension kind).
const ADDRESS_TAKEN: u8 = 0x80;

/// A [`Record::CallUpdate`] read in place ([`Record::call_update_short`]).
pub(crate) struct CallUpdateShort<'a> {
    /// Our Tunnel ID.
    pub(crate) tunnel: u16,
    /// Our Session ID.
    pub(crate) session: u16,
    /// The details block, checked (module docs, call details).
    pub(crate) block: &'a [u8],
    /// The rank of the block's last item (0 without items).
    pub(crate) last: usize,
    /// The body's octets.
    pub(crate) len: usize,
}

/// The entries of a batch of `count` entries at the start of `b` (after its head) into `out`,
/// read in place, when every one is a [`Record::CallUpdate`] that parses
/// ([`Record::call_update_short`]); `false` otherwise (the batch then goes the general way,
/// which names any error).
pub(crate) fn call_updates<'a>(mut b: &'a [u8], count: usize, out: &mut CallUpdates<'a>) -> bool {
    for _ in 0..count {
        let Some((&CALL_UPDATE, body)) = b.split_first() else {
            return false;
        };
        let Some(u) = Record::call_update_short(body) else {
            return false;
        };
        let (Some(rest), Ok(())) = (body.get(u.len..), out.try_push(u)) else {
            return false;
        };
        b = rest;
    }
    true
}

/// A batch's call updates read in place ([`call_updates`]).
pub(crate) type CallUpdates<'a> =
    arrayvec::ArrayVec<CallUpdateShort<'a>, { crate::replica::MAX_ITEMS }>;

/// An entry of a batch of set-ups' and tear-downs' records read in place ([`setup_entries`]),
/// with no [`Record`] boxed.
pub(crate) enum SetupEntry<'a> {
    /// A [`Record::Call`]'s content.
    Call(CallRecord),
    /// A [`Record::CallUpdate`], its details block borrowed from the datagram.
    Update(CallUpdateShort<'a>),
    /// A [`Record::Session`], [`Record::SessionSequence`], [`Record::SessionGone`] or
    /// [`Record::TunnelSequence`] (none of them allocates).
    Plain(Record),
}

/// The entries of a batch read in place ([`setup_entries`]).
pub(crate) type SetupEntries<'a> =
    arrayvec::ArrayVec<SetupEntry<'a>, { crate::replica::MAX_ITEMS }>;

/// The entries of a batch of `count` entries at the start of `b` (after its head) into `out`,
/// read in place, when every one is a record of a kind [`SetupEntry`] holds that parses
/// ([`Record::parse_short`], [`Record::call_short`], [`Record::call_update_short`]); `false`
/// otherwise (the batch then goes the general way, which names any error). The records
/// [`Record::parse`] reads, a call's not boxed.
pub(crate) fn setup_entries<'a>(mut b: &'a [u8], count: usize, out: &mut SetupEntries<'a>) -> bool {
    for _ in 0..count {
        let Some((&kind, body)) = b.split_first() else {
            return false;
        };
        let parsed = match kind {
            CALL => Record::call_short(body).map(|(c, len)| (SetupEntry::Call(c), len)),
            CALL_UPDATE => Record::call_update_short(body).map(|u| {
                let len = u.len;
                (SetupEntry::Update(u), len)
            }),
            SESSION | SESSION_SEQUENCE | SESSION_GONE | TUNNEL_SEQUENCE => {
                Record::parse_short(kind, body).map(|(rec, len)| (SetupEntry::Plain(rec), len))
            }
            _ => None,
        };
        let Some((e, len)) = parsed else {
            return false;
        };
        let (Some(rest), Ok(())) = (body.get(len..), out.try_push(e)) else {
            return false;
        };
        b = rest;
    }
    true
}

/// The most octets of a set-up's record ([`Record::setup_octets`]): a session answered with
/// its ICRP's Ns and its tunnel's Ns and Nr.
pub(crate) const SETUP_RECORD_MAX: usize = 22;

/// Reads a non-zero id (RFC 2661 3.1).
fn id(r: &mut Reader<'_>, field: Field) -> Result<u16, RecordError> {
    let offset = r.offset();
    match r.u16(field)? {
        0 => Err(RecordError::Invalid { offset, field }),
        v => Ok(v),
    }
}

fn read_addr(r: &mut Reader<'_>) -> Result<SocketAddr, RecordError> {
    let ip = read_ip(r)?;
    Ok(SocketAddr::new(ip, r.u16(Field::Port)?))
}

/// An address without its port: family (4 or 6), octets.
fn read_ip(r: &mut Reader<'_>) -> Result<IpAddr, RecordError> {
    let offset = r.offset();
    let ip = match r.u8(Field::Family)? {
        4 => IpAddr::V4(r.addr(Field::Address)?),
        6 => {
            let b: [u8; 16] =
                r.bytes(16, Field::Address)?
                    .try_into()
                    .map_err(|_| RecordError::Invalid {
                        offset,
                        field: Field::Address,
                    })?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => {
            return Err(RecordError::Invalid {
                offset,
                field: Field::Family,
            });
        }
    };
    Ok(ip)
}

fn put_addr(a: &SocketAddr, buf: &mut impl BufMut) {
    put_ip(a.ip(), buf);
    buf.put_u16(a.port());
}

/// As [`read_ip`] reads it.
fn put_ip(ip: IpAddr, buf: &mut impl BufMut) {
    match ip {
        IpAddr::V4(v4) => {
            buf.put_u8(4);
            buf.put_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            buf.put_u8(6);
            buf.put_slice(&v6.octets());
        }
    }
}

/// A flags octet whose bits outside `known` are zero: a record has one encoding, so one with
/// undefined bits set is refused ([`RecordError::Invalid`]), not re-emitted differently.
fn known_bits(r: &mut Reader<'_>, field: Field, known: u8) -> Result<u8, RecordError> {
    let offset = r.offset();
    let bits = r.u8(field)?;
    if bits & !known != 0 {
        return Err(RecordError::Invalid { offset, field });
    }
    Ok(bits)
}

/// A call details item's value (module docs, call details).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ItemValue<'a> {
    U32(u32),
    U16(u16),
    Bytes(&'a [u8]),
    Flag,
}

/// The item types of a call details block, in the order written (module docs, call details):
/// the ICRQ's (RFC 2661 6.6: Bearer Type, Called Number, Calling Number, Sub-Address, Physical
/// Channel ID), then the ICCN's (6.8: Framing Type, Tx Connect Speed, Proxy Authen Type and
/// Name, Private Group ID, Rx Connect Speed, Sequencing Required), so that the ICCN's merged
/// into the ICRQ's are the two blocks' items one after the other ([`merge_packed`]).
const ITEM_TYPES: [AvpType; 12] = [
    AvpType::BEARER_TYPE,
    AvpType::CALLED_NUMBER,
    AvpType::CALLING_NUMBER,
    AvpType::SUB_ADDRESS,
    AvpType::PHYSICAL_CHANNEL_ID,
    AvpType::FRAMING_TYPE,
    AvpType::TX_CONNECT_SPEED,
    AvpType::PROXY_AUTHEN_TYPE,
    AvpType::PROXY_AUTHEN_NAME,
    AvpType::PRIVATE_GROUP_ID,
    AvpType::RX_CONNECT_SPEED,
    AvpType::SEQUENCING_REQUIRED,
];

/// [`ITEM_TYPES`] position + 1 of each attribute type below 40 (0: not an item type): an
/// item's type looked up at one index.
const ITEM_AT: [u8; 40] = {
    let mut t = [0u8; 40];
    let mut i = 0;
    while i < ITEM_TYPES.len() {
        t[ITEM_TYPES[i].0 as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

/// The [`ITEM_TYPES`] position of the item type `t`, if it is one.
#[inline(always)]
fn item_at(t: u8) -> Option<usize> {
    match ITEM_AT.get(usize::from(t)) {
        Some(&p) if p > 0 => Some(usize::from(p - 1)),
        _ => None,
    }
}

/// The octets of the value of the item at [`ITEM_TYPES`] position `at` that follow its type,
/// its length field included, where `rest` starts with them; `None` when `rest` is too short
/// or an octet string is longer than [`MAX_VALUE_LEN`] (module docs, call details).
#[inline(always)]
fn item_value_len(at: usize, rest: &[u8]) -> Option<usize> {
    let len = match at {
        PROXY_TYPE => 2,
        SEQUENCING => 0,
        1..=3 | PROXY_NAME | 9 => {
            let [a, b] = *rest.first_chunk::<2>()?;
            let n = usize::from(u16::from_be_bytes([a, b]));
            if n > MAX_VALUE_LEN {
                return None;
            }
            2 + n
        }
        _ => 4,
    };
    (rest.len() >= len).then_some(len)
}

/// The length of the call details block at the start of `b` and the [`ITEM_TYPES`] position
/// of its last item (0 without items), when it is one [`read_slots`] takes (known types in
/// increasing order, each at most once, octet strings at most [`MAX_VALUE_LEN`], a Proxy
/// Authen Name only after a Proxy Authen Type); `None` otherwise (then [`read_slots`] names
/// the error). One pass over the octets, nothing built.
#[inline]
fn block_check(b: &[u8]) -> Option<(usize, usize)> {
    let (&n, mut rest) = b.split_first()?;
    // `next`: one more than the last item's position (0 before the first).
    let mut next = 0usize;
    for _ in 0..n {
        let (&t, r) = rest.split_first()?;
        let at = item_at(t)?;
        // Increasing order; a Proxy Authen Name right after its Type (the position before
        // it: in increasing order, a Type before the Name is the item just before it).
        if at < next || (at == PROXY_NAME && next != PROXY_NAME) {
            return None;
        }
        rest = r.get(item_value_len(at, r)?..)?;
        next = at + 1;
    }
    Some((b.len() - rest.len(), next.saturating_sub(1)))
}

/// Where the Proxy Authen Type and Name go in [`Slots`].
const PROXY_TYPE: usize = 7;
const PROXY_NAME: usize = 8;
// The Name's position right after the Type's ([`block_check`] relies on it).
const _: () = assert!(PROXY_NAME == PROXY_TYPE + 1);
const SEQUENCING: usize = 11;

/// The items of a call details block by [`ITEM_TYPES`] position.
pub(crate) type Slots<'a> = [Option<ItemValue<'a>>; 12];

/// An octet string item, cut at [`MAX_VALUE_LEN`] (which no AVP exceeds).
fn octets(v: &[u8]) -> ItemValue<'_> {
    ItemValue::Bytes(&v[..v.len().min(MAX_VALUE_LEN)])
}

/// The items of `d`'s replicable fields present (module docs, call details).
pub(crate) fn detail_slots(d: &CallDetails) -> Slots<'_> {
    use ItemValue::{Flag, U16, U32};
    let auth = d.proxy_auth.as_ref();
    [
        d.bearer_type.map(|v| U32(v.0)),
        d.called_number.as_deref().map(octets),
        d.calling_number.as_deref().map(octets),
        d.sub_address.as_deref().map(octets),
        d.physical_channel_id.map(U32),
        d.framing_type.map(|v| U32(v.0)),
        d.tx_connect_speed.map(U32),
        auth.map(|a| U16(a.kind.0)),
        auth.and_then(|a| a.name.as_deref().map(octets)),
        d.private_group_id.as_deref().map(octets),
        d.rx_connect_speed.map(U32),
        d.sequencing_required.then_some(Flag),
    ]
}

/// The call details items of the AVPs of `msg` (an ICRQ or ICCN; as
/// [`CallDetails::from_message`] reads them: the first AVP of each type, a Proxy Authen Name
/// only with a Proxy Authen Type; the replicable fields only), read in place.
pub(crate) fn message_slots<'a>(msg: &'a super::wire::ControlMessage<'_>) -> Slots<'a> {
    let mut slots: Slots<'a> = [None; 12];
    for avp in &msg.avps {
        // Vendor 0 and recognised (`CallDetails::from_message`): `item_rank`'s variants are.
        if let (Some(at), Some(v)) = (item_rank(&avp.value), item_value(&avp.value))
            && let Some(slot) = slots.get_mut(at)
            && slot.is_none()
        {
            *slot = Some(v);
        }
    }
    if slots[PROXY_TYPE].is_none() {
        slots[PROXY_NAME] = None;
    }
    slots
}

/// The packed block of `slots` (module docs, call details): one allocation of its exact size,
/// written in one pass on the stack and copied once (a block longer than [`PACK_STACK`]
/// octets, which a call's details hardly reach, through a vector).
pub(crate) fn pack_slots(slots: &Slots<'_>) -> PackedCallDetails {
    // The last item's rank, the count, then the items (`PackedCallDetails` docs).
    let mut out = PackBuf::new();
    out.extend([0, 0]);
    let (mut n, mut last) = (0u8, 0usize);
    for (rank, (t, v)) in ITEM_TYPES.iter().zip(slots).enumerate() {
        let Some(v) = v else {
            continue;
        };
        if push_item(&mut out, *t, *v).is_err() {
            return pack_long(slots);
        }
        n += 1;
        last = rank;
    }
    out[0] = last as u8;
    out[1] = n;
    PackedCallDetails::from_ranked(&out)
}

/// The stack buffer a block is written in ([`pack_slots`], [`pack_message`],
/// [`merge_block`]): its rank octet then the block, at most [`PACK_STACK`] octets of items;
/// not zeroed first (only what is written is read).
pub(crate) type PackBuf = arrayvec::ArrayVec<u8, { 2 + PACK_STACK }>;

/// Appends the item of type `t` with value `v` to `o` (1 + `v.len()` octets); an error,
/// nothing appended but perhaps its type and length, when it does not fit.
#[inline(always)]
fn push_item(o: &mut PackBuf, t: AvpType, v: ItemValue<'_>) -> Result<(), arrayvec::CapacityError> {
    let t = t.0 as u8;
    match v {
        ItemValue::U32(v) => {
            let [a, b, c, d] = v.to_be_bytes();
            o.try_extend_from_slice(&[t, a, b, c, d])
        }
        ItemValue::U16(v) => {
            let [a, b] = v.to_be_bytes();
            o.try_extend_from_slice(&[t, a, b])
        }
        ItemValue::Bytes(v) => {
            let [a, b] = (v.len() as u16).to_be_bytes();
            o.try_extend_from_slice(&[t, a, b])?;
            o.try_extend_from_slice(v)
        }
        ItemValue::Flag => o.try_push(t).map_err(|_| arrayvec::CapacityError::new(())),
    }
}

/// [`pack_slots`] of a block longer than [`PACK_STACK`] octets.
#[cold]
fn pack_long(slots: &Slots<'_>) -> PackedCallDetails {
    let last = slots.iter().rposition(Option::is_some).unwrap_or(0);
    let mut buf = vec![last as u8, slots.iter().flatten().count() as u8];
    put_items(slots, &mut buf);
    PackedCallDetails::from_ranked(&buf)
}

/// The packed block of the call details items of the AVPs of `msg` (an ICRQ or ICCN), the
/// same as `pack_slots(&message_slots(msg))` makes, with no [`Slots`] built: one pass over
/// the AVPs notes where each item type's first AVP is, then the items are written in type
/// order straight from them.
pub(crate) fn pack_message(msg: &super::wire::ControlMessage<'_>) -> PackedCallDetails {
    let (present, first) = message_items(msg);
    let mut out = PackBuf::new();
    out.extend([0, 0]);
    match push_message_items(msg, present, &first, &mut out) {
        Some((n, last)) => {
            out[0] = last as u8;
            out[1] = n;
            PackedCallDetails::from_ranked(&out)
        }
        None => pack_slots(&message_slots(msg)),
    }
}

/// The ranks ([`ITEM_TYPES`] positions) of the call details items of the AVPs of `msg` (an
/// ICRQ or ICCN) as bits of the result, and the index in its AVPs of each one's first AVP (as
/// [`CallDetails::from_message`] reads them: the first AVP of each type, a Proxy Authen Name
/// only with a Proxy Authen Type).
#[inline(always)]
fn message_items(msg: &super::wire::ControlMessage<'_>) -> (u16, [usize; 12]) {
    // The index in `avps` of each item type's first AVP, by rank; `present` has bit `rank`.
    let mut first = [0usize; 12];
    let mut present = 0u16;
    for (i, avp) in msg.avps.iter().enumerate() {
        if let Some(rank) = item_rank(&avp.value)
            && present & (1 << rank) == 0
        {
            present |= 1 << rank;
            first[rank] = i;
        }
    }
    // A Proxy Authen Name only with a Proxy Authen Type.
    if present & (1 << PROXY_TYPE) == 0 {
        present &= !(1 << PROXY_NAME);
    }
    (present, first)
}

/// Appends to `out` the items ([`message_items`]: `present`, `first`) of `msg`, in type
/// order: how many and the last one's rank; `None` when they do not fit.
#[inline(always)]
fn push_message_items(
    msg: &super::wire::ControlMessage<'_>,
    present: u16,
    first: &[usize; 12],
    out: &mut PackBuf,
) -> Option<(u8, usize)> {
    let (mut n, mut last) = (0u8, 0usize);
    let mut left = present;
    while left != 0 {
        let rank = left.trailing_zeros() as usize;
        left &= left - 1;
        let Some(v) = msg.avps.get(first[rank]).and_then(|a| item_value(&a.value)) else {
            continue;
        };
        push_item(out, ITEM_TYPES[rank], v).ok()?;
        n += 1;
        last = rank;
    }
    Some((n, last))
}

/// The details `msg` (an ICCN) carries, packed as [`pack_message`] packs them, and `old`
/// (a call's details, if any) with them merged in, as [`merge_packed`] merges them: `None`
/// when `msg` carries none. When every item of `msg` comes after every one of `old` (an
/// ICCN's after an ICRQ's, [`ITEM_TYPES`]), both are written in one pass over the AVPs into
/// one stack buffer: `old`'s items, then `msg`'s, the update's rank and count octets written
/// over the two octets before `msg`'s items for its copy, then the merged block's at the start.
pub(crate) fn merge_message(
    old: Option<&PackedCallDetails>,
    msg: &super::wire::ControlMessage<'_>,
) -> Option<(PackedCallDetails, PackedCallDetails)> {
    let (present, first) = message_items(msg);
    if present == 0 {
        return None;
    }
    let old = old.filter(|o| !o.is_empty());
    let Some(old) = old else {
        let update = pack_message(msg);
        return (!update.is_empty()).then(|| (update.clone(), update));
    };
    let (ob, old_last) = (old.as_bytes(), old.last_rank());
    let (Some((&n, items)), lowest) = (ob.split_first(), present.trailing_zeros() as usize) else {
        return None;
    };
    let mut out = PackBuf::new();
    let fits = lowest > old_last
        && out.try_extend_from_slice(&[0, 0]).is_ok()
        && out.try_extend_from_slice(items).is_ok();
    let pushed = fits
        .then(|| push_message_items(msg, present, &first, &mut out))
        .flatten();
    let (Some((m, last)), Some(count)) = (pushed, pushed.and_then(|(m, _)| n.checked_add(m)))
    else {
        let update = pack_message(msg);
        return (!update.is_empty()).then(|| (update.clone(), old.merged(&update)));
    };
    if m == 0 {
        return None;
    }
    // The update: its rank and count octets just before its items.
    let at = 1 + items.len();
    let kept = [out[at - 1], out[at]];
    out[at - 1] = last as u8;
    out[at] = m;
    let update = PackedCallDetails::from_ranked(&out[at - 1..]);
    [out[at - 1], out[at]] = kept;
    out[0] = last as u8;
    out[1] = count;
    Some((update, PackedCallDetails::from_ranked(&out)))
}

/// The rank ([`ITEM_TYPES`] position) of the call details item an AVP's value is, if it is one
/// (vendor 0 and recognised, as `CallDetails::from_message` reads them: another vendor's AVPs
/// parse as its own variants).
#[inline(always)]
fn item_rank(v: &super::wire::avp::AvpValue<'_>) -> Option<usize> {
    use super::wire::avp::AvpValue as V;
    Some(match v {
        V::BearerType(_) => 0,
        V::CalledNumber(_) => 1,
        V::CallingNumber(_) => 2,
        V::SubAddress(_) => 3,
        V::PhysicalChannelId(_) => 4,
        V::FramingType(_) => 5,
        V::TxConnectSpeed(_) => 6,
        V::ProxyAuthenType(_) => PROXY_TYPE,
        V::ProxyAuthenName(_) => PROXY_NAME,
        V::PrivateGroupId(_) => 9,
        V::RxConnectSpeed(_) => 10,
        V::SequencingRequired => SEQUENCING,
        _ => return None,
    })
}

/// The call details item an AVP's value is ([`item_rank`]), as an item value.
#[inline(always)]
fn item_value<'a>(v: &'a super::wire::avp::AvpValue<'_>) -> Option<ItemValue<'a>> {
    use super::wire::avp::AvpValue as V;
    use ItemValue::{Flag, U16, U32};
    Some(match v {
        V::BearerType(v)
        | V::PhysicalChannelId(v)
        | V::FramingType(v)
        | V::TxConnectSpeed(v)
        | V::RxConnectSpeed(v) => U32(*v),
        V::CalledNumber(b)
        | V::CallingNumber(b)
        | V::SubAddress(b)
        | V::ProxyAuthenName(b)
        | V::PrivateGroupId(b) => octets(b),
        V::ProxyAuthenType(v) => U16(*v),
        V::SequencingRequired => Flag,
        _ => return None,
    })
}

/// The longest block written on the stack ([`pack_slots`], [`pack_message`],
/// [`merge_packed`]; a BRAS call's is 71 octets).
pub(crate) const PACK_STACK: usize = 256;

/// Writes the items of `slots` (a block without its count): each item's type and fixed-size
/// value in one write.
fn put_items(slots: &Slots<'_>, buf: &mut impl BufMut) {
    for (t, v) in ITEM_TYPES.iter().zip(slots) {
        let Some(v) = v else {
            continue;
        };
        let t = t.0 as u8;
        match *v {
            ItemValue::U32(v) => {
                let [a, b, c, d] = v.to_be_bytes();
                buf.put_slice(&[t, a, b, c, d]);
            }
            ItemValue::U16(v) => {
                let [a, b] = v.to_be_bytes();
                buf.put_slice(&[t, a, b]);
            }
            ItemValue::Bytes(v) => {
                let [a, b] = (v.len() as u16).to_be_bytes();
                buf.put_slice(&[t, a, b]);
                buf.put_slice(v);
            }
            ItemValue::Flag => buf.put_u8(t),
        }
    }
}

/// The block of `old` with `later`'s items (both packed blocks) merged in, as
/// [`CallDetails::merge`] merges: every item `later` has replaces `old`'s; Sequencing Required
/// if either has it.
pub(crate) fn merge_packed(
    old_details: &PackedCallDetails,
    later_details: &PackedCallDetails,
) -> PackedCallDetails {
    merge_block(
        old_details,
        later_details.as_bytes(),
        later_details.last_rank(),
    )
}

/// As [`merge_packed`], `later` a block checked here ([`block_check`], or a
/// [`PackedCallDetails`]'s) whose last item has rank `later_last`, borrowed: a backup merges a
/// [`Record::CallUpdate`] straight from the datagram ([`Record::call_update_short`]).
pub(crate) fn merge_block(
    old_details: &PackedCallDetails,
    later: &[u8],
    later_last: usize,
) -> PackedCallDetails {
    let old = old_details.as_bytes();
    // Every item of `later` after every one of `old` (an ICCN's after an ICRQ's, `ITEM_TYPES`):
    // the items one after the other, nothing decoded. Both are blocks made or checked here
    // (`PackedCallDetails`): `later`'s first item is its first type octet's, and `old`'s last
    // item's rank is kept with it; no walk needed.
    let first = |b: &[u8]| b.get(1).and_then(|t| item_at(*t));
    let last = old_details.last_rank();
    if let (Some(&n), Some(&m)) = (old.first(), later.first())
        && (n == 0 || m == 0 || first(later).is_some_and(|f| last < f))
        && let (Some(a), Some(b), Some(count)) = (old.get(1..), later.get(1..), n.checked_add(m))
    {
        let rank = if m == 0 { last } else { later_last };
        let len = 1 + old.len() + b.len();
        let mut out = PackBuf::new();
        if out.try_extend_from_slice(&[rank as u8, count]).is_ok()
            && out.try_extend_from_slice(a).is_ok()
            && out.try_extend_from_slice(b).is_ok()
        {
            return PackedCallDetails::from_ranked(&out);
        }
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(&[rank as u8, count]);
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        return PackedCallDetails::from_ranked(&v);
    }
    let (a, b) = (
        read_slots(&mut Reader::new(old)).unwrap_or([None; 12]),
        read_slots(&mut Reader::new(later)).unwrap_or([None; 12]),
    );
    let mut m = a;
    for (m, b) in m.iter_mut().zip(b) {
        if b.is_some() {
            *m = b;
        }
    }
    // A later Proxy Authen Type without a name replaces the whole proxy authentication.
    if b[PROXY_TYPE].is_some() {
        m[PROXY_NAME] = b[PROXY_NAME];
    }
    pack_slots(&m)
}

/// Reads a call details block into its items, borrowed (module docs, call details): known
/// types only, each at most once and in the order of [`ITEM_TYPES`] (one encoding per record), octet
/// strings at most [`MAX_VALUE_LEN`] octets (as the AVP bounds them), a Proxy Authen Name only
/// after a Proxy Authen Type; anything else is [`RecordError::Invalid`]. No allocation.
pub(crate) fn read_slots<'a>(r: &mut Reader<'a>) -> Result<Slots<'a>, RecordError> {
    const F: Field = Field::Details;
    let count = r.u8(F)?;
    let mut slots: Slots<'a> = [None; 12];
    let mut next = 0usize;
    for _ in 0..count {
        let offset = r.offset();
        let invalid = RecordError::Invalid { offset, field: F };
        let t = AvpType(u16::from(r.u8(F)?));
        // Increasing type order: the type is one of those after the last item's.
        let at = ITEM_TYPES
            .get(next..)
            .and_then(|rest| rest.iter().position(|k| *k == t))
            .map(|i| next + i)
            .ok_or(invalid)?;
        next = at + 1;
        let v = match t {
            AvpType::PROXY_AUTHEN_TYPE => ItemValue::U16(r.u16(F)?),
            AvpType::SEQUENCING_REQUIRED => ItemValue::Flag,
            AvpType::CALLED_NUMBER
            | AvpType::CALLING_NUMBER
            | AvpType::SUB_ADDRESS
            | AvpType::PROXY_AUTHEN_NAME
            | AvpType::PRIVATE_GROUP_ID => {
                let at = r.offset();
                let len = usize::from(r.u16(F)?);
                if len > MAX_VALUE_LEN {
                    return Err(RecordError::Invalid {
                        offset: at,
                        field: F,
                    });
                }
                ItemValue::Bytes(r.bytes(len, F)?)
            }
            _ => ItemValue::U32(r.u32(F)?),
        };
        if at == PROXY_NAME && slots[PROXY_TYPE].is_none() {
            return Err(invalid);
        }
        slots[at] = Some(v);
    }
    Ok(slots)
}

/// Reads a call details block ([`read_slots`]) into typed details.
pub(crate) fn read_details(r: &mut Reader<'_>) -> Result<CallDetails, RecordError> {
    let s = read_slots(r)?;
    let u32_of = |v: Option<ItemValue<'_>>| match v {
        Some(ItemValue::U32(x)) => Some(x),
        _ => None,
    };
    let bytes_of = |v: Option<ItemValue<'_>>| match v {
        Some(ItemValue::Bytes(b)) => Some(b.to_vec()),
        _ => None,
    };
    Ok(CallDetails {
        bearer_type: u32_of(s[0]).map(BearerType),
        called_number: bytes_of(s[1]),
        calling_number: bytes_of(s[2]),
        sub_address: bytes_of(s[3]),
        physical_channel_id: u32_of(s[4]),
        framing_type: u32_of(s[5]).map(FramingType),
        tx_connect_speed: u32_of(s[6]),
        proxy_auth: match s[PROXY_TYPE] {
            Some(ItemValue::U16(kind)) => Some(ProxyAuth {
                kind: ProxyAuthenType(kind),
                name: bytes_of(s[PROXY_NAME]),
                ..ProxyAuth::default()
            }),
            _ => None,
        },
        private_group_id: bytes_of(s[9]),
        rx_connect_speed: u32_of(s[10]),
        sequencing_required: s[SEQUENCING].is_some(),
        ..CallDetails::default()
    })
}

/// Reads a call details block as [`read_details`] checks it, kept packed.
fn read_packed(r: &mut Reader<'_>) -> Result<PackedCallDetails, RecordError> {
    let (start, at) = (r.rest(), r.offset());
    if let Some((len, last)) = block_check(start) {
        r.skip(len);
        return Ok(PackedCallDetails::from_checked(&start[..len], last));
    }
    let slots = read_slots(r)?;
    let len = r.offset() - at;
    let last = slots.iter().rposition(Option::is_some).unwrap_or(0);
    Ok(PackedCallDetails::from_checked(&start[..len], last))
}

impl TunnelRecord {
    fn parse(r: &mut Reader<'_>) -> Result<TunnelRecord, RecordError> {
        let tunnel = id(r, Field::Tunnel)?;
        let peer_tunnel = id(r, Field::PeerTunnel)?;
        let peer = read_addr(r)?;
        let local = read_addr(r)?;
        let (ns, nr) = (r.u16(Field::Ns)?, r.u16(Field::Nr)?);
        let peer_window = r.u16(Field::PeerWindow)?;
        let peer_framing_capabilities = r.u32(Field::Framing)?;
        let flags = known_bits(r, Field::Flags, 0x07)?;
        let peer_bearer_capabilities = match flags & 0x02 {
            0 => None,
            _ => Some(r.u32(Field::Bearer)?),
        };
        let peer_failover = match flags & 0x04 {
            0 => None,
            _ => {
                let bits = known_bits(r, Field::Failover, 0x03)?;
                Some(FailoverCapability {
                    control: bits & 0x02 != 0,
                    data: bits & 0x01 != 0,
                    recovery_time_ms: r.u32(Field::Failover)?,
                })
            }
        };
        Ok(TunnelRecord {
            tunnel,
            peer_tunnel,
            peer,
            local,
            ns,
            nr,
            peer_window,
            peer_framing_capabilities,
            peer_bearer_capabilities,
            peer_load_balance_capable: flags & 0x01 != 0,
            peer_failover,
            hello_interval_ms: r.u32(Field::Hello)?,
            epoch: r.u32(Field::Epoch)?,
        })
    }

    fn emit(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.tunnel);
        buf.put_u16(self.peer_tunnel);
        put_addr(&self.peer, buf);
        put_addr(&self.local, buf);
        buf.put_u16(self.ns);
        buf.put_u16(self.nr);
        buf.put_u16(self.peer_window);
        buf.put_u32(self.peer_framing_capabilities);
        let flags = u8::from(self.peer_load_balance_capable)
            | u8::from(self.peer_bearer_capabilities.is_some()) << 1
            | u8::from(self.peer_failover.is_some()) << 2;
        buf.put_u8(flags);
        if let Some(b) = self.peer_bearer_capabilities {
            buf.put_u32(b);
        }
        if let Some(f) = self.peer_failover {
            buf.put_u8(u8::from(f.control) << 1 | u8::from(f.data));
            buf.put_u32(f.recovery_time_ms);
        }
        buf.put_u32(self.hello_interval_ms);
        buf.put_u32(self.epoch);
    }
}

impl SessionRecord {
    fn parse(r: &mut Reader<'_>) -> Result<SessionRecord, RecordError> {
        let tunnel = id(r, Field::Tunnel)?;
        let session = id(r, Field::Session)?;
        let peer_session = id(r, Field::PeerSession)?;
        let serial = r.u32(Field::Serial)?;
        let offset = r.offset();
        let flags = known_bits(r, Field::Flags, 0x0f)?;
        if flags & 0x0c == 0x08 {
            // An ICRP Ns without the call answered: not an encoding `emit` makes.
            return Err(RecordError::Invalid {
                offset,
                field: Field::Flags,
            });
        }
        let (data_ns, data_nr) = (r.u16(Field::Ns)?, r.u16(Field::Nr)?);
        let icrp_ns = match flags & 0x08 {
            0 => None,
            _ => Some(r.u16(Field::Ns)?),
        };
        Ok(SessionRecord {
            tunnel,
            session,
            peer_session,
            serial,
            sequencing: flags & 0x01 != 0,
            load_balance_capable: flags & 0x02 != 0,
            data_ns,
            data_nr,
            answered: flags & 0x04 != 0,
            icrp_ns,
        })
    }

    /// The record's octets (module docs), its kind first, into `b`; returns how many (16, or
    /// 18 for an answered call with its ICRP's Ns).
    fn octets<const N: usize>(&self, b: &mut [u8; N]) -> usize {
        const { assert!(N >= 18) };
        // An ICRP Ns is meaningful for an answered call only (the field docs).
        let icrp_ns = self.icrp_ns.filter(|_| self.answered);
        b[0] = SESSION;
        b[1..3].copy_from_slice(&self.tunnel.to_be_bytes());
        b[3..5].copy_from_slice(&self.session.to_be_bytes());
        b[5..7].copy_from_slice(&self.peer_session.to_be_bytes());
        b[7..11].copy_from_slice(&self.serial.to_be_bytes());
        b[11] = u8::from(self.sequencing)
            | u8::from(self.load_balance_capable) << 1
            | u8::from(self.answered) << 2
            | u8::from(icrp_ns.is_some()) << 3;
        b[12..14].copy_from_slice(&self.data_ns.to_be_bytes());
        b[14..16].copy_from_slice(&self.data_nr.to_be_bytes());
        match icrp_ns {
            Some(ns) => {
                b[16..18].copy_from_slice(&ns.to_be_bytes());
                18
            }
            None => 16,
        }
    }
}

/// The session body at the start of `b` (whose first 15 octets, or more, are `h`), and its
/// length (15, or 17 with an ICRP Ns); `None` when not valid or short (as
/// [`SessionRecord::parse`] would refuse it).
#[inline(always)]
fn session_short<const N: usize>(h: &[u8; N], b: &[u8]) -> Option<(SessionRecord, usize)> {
    const { assert!(N >= 15) };
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let flags = h[10];
    // As `SessionRecord::parse`: known bits only, no ICRP Ns without the answer; ids non-zero.
    if flags & !0x0f != 0 || flags & 0x0c == 0x08 {
        return None;
    }
    let (tunnel, session, peer_session) = (be(0), be(2), be(4));
    if tunnel == 0 || session == 0 || peer_session == 0 {
        return None;
    }
    let (icrp_ns, len) = match flags & 0x08 {
        0 => (None, 15),
        _ => {
            let t = b.get(15..17)?;
            (Some(u16::from_be_bytes([t[0], t[1]])), 17)
        }
    };
    let rec = SessionRecord {
        tunnel,
        session,
        peer_session,
        serial: u32::from_be_bytes([h[6], h[7], h[8], h[9]]),
        sequencing: flags & 0x01 != 0,
        load_balance_capable: flags & 0x02 != 0,
        data_ns: be(11),
        data_nr: be(13),
        answered: flags & 0x04 != 0,
        icrp_ns,
    };
    Some((rec, len))
}

impl Record {
    /// Parses exactly one record (all of `b`).
    pub fn parse(b: &[u8]) -> Result<Record, RecordError> {
        let mut r = Reader::new(b);
        let kind = r.u8(Field::Kind)?;
        let rec = Record::parse_kind(kind, &mut r)?;
        match r.remaining() {
            0 => Ok(rec),
            n => Err(RecordError::Trailing(n)),
        }
    }

    /// Reads the body of a record of kind `kind` (already read): the records a set-up or a
    /// tear-down sends (session, session gone, sequence numbers) decoded from the octets at
    /// once when they are complete and valid ([`Record::parse_short`]), else, and for the other
    /// kinds, field by field with the errors that name where and why
    /// ([`Record::parse_fields`]): the same records and errors either way.
    fn parse_kind(kind: u8, r: &mut Reader<'_>) -> Result<Record, RecordError> {
        if let Some((rec, len)) = Record::parse_short(kind, r.rest()) {
            r.skip(len);
            return Ok(rec);
        }
        Record::parse_fields(kind, r)
    }

    /// The body at the start of `b` of a session, session gone or sequence numbers record
    /// (`kind`), and its length; `None` when it is incomplete or not valid (the field-by-field
    /// parse then names the error), or for another kind. Each decoded from a fixed-size head of
    /// `b` read at one bounds check (two for an answered call's ICRP Ns).
    #[inline]
    fn parse_short(kind: u8, b: &[u8]) -> Option<(Record, usize)> {
        let be = |h: &[u8], i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        match kind {
            SESSION_SEQUENCE => Record::session_sequence_short(b)
                .map(|(session, ns, nr, len)| (Record::SessionSequence { session, ns, nr }, len)),
            SESSION => {
                let h = b.first_chunk::<15>()?;
                session_short(h, b).map(|(s, len)| (Record::Session(s), len))
            }
            SESSION_GONE => {
                let h = b.first_chunk::<4>()?;
                let (tunnel, session) = (be(h, 0), be(h, 2));
                (tunnel != 0 && session != 0)
                    .then_some((Record::SessionGone { tunnel, session }, 4))
            }
            // A set-up's record when its call has details (module docs, call details): the
            // session body, the call flags and sequence numbers, then the details block, which
            // is checked in one pass ([`block_check`]) and kept as it is.
            CALL => Record::call_short(b).map(|(call, len)| (Record::Call(Box::new(call)), len)),
            CALL_UPDATE => {
                let u = Record::call_update_short(b)?;
                let rec = Record::CallUpdate {
                    tunnel: u.tunnel,
                    session: u.session,
                    details: PackedCallDetails::from_checked(u.block, u.last),
                };
                Some((rec, u.len))
            }
            TUNNEL_SEQUENCE => {
                let h = b.first_chunk::<6>()?;
                let tunnel = be(h, 0);
                (tunnel != 0).then_some((
                    Record::TunnelSequence {
                        tunnel,
                        ns: be(h, 2),
                        nr: be(h, 4),
                    },
                    6,
                ))
            }
            _ => None,
        }
    }

    /// The body at the start of `b` of a [`Record::SessionSequence`] (its kind octet read
    /// already): the session, its tunnel's `ns` and `nr`, and the body's length (19 octets, 21
    /// with an ICRP Ns); `None` when it is incomplete or not valid, as [`Record::parse_short`]
    /// (which decodes that kind with it). A receiver takes a set-up's batch (this record
    /// alone) with it, no [`Record`] built (`lns::replicate` docs, set-up batches).
    #[inline(always)]
    pub(crate) fn session_sequence_short(b: &[u8]) -> Option<(SessionRecord, u16, u16, usize)> {
        // A session body then ns and nr.
        let h = b.first_chunk::<19>()?;
        let (session, len) = session_short(h, b)?;
        let t = b.get(len..len + 4)?;
        let (ns, nr) = (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
        );
        Some((session, ns, nr, len + 4))
    }

    /// The body at the start of `b` of a [`Record::Call`] (its kind octet read already) and
    /// the body's length; `None` when it is incomplete or not valid, as
    /// [`Record::parse_short`] (which decodes that kind with it). A receiver takes a set-up's
    /// batch of this record alone with it, no [`Record`] built (`lns::replicate` docs, set-up
    /// batches).
    #[inline]
    pub(crate) fn call_short(b: &[u8]) -> Option<(CallRecord, usize)> {
        let h = b.first_chunk::<15>()?;
        let (session, len) = session_short(h, b)?;
        let (sequence, at) = match *b.get(len)? {
            0 => (None, len + 1),
            1 => {
                let t = b.get(len + 1..len + 5)?;
                let be = |i: usize| u16::from_be_bytes([t[i], t[i + 1]]);
                (Some((be(0), be(2))), len + 5)
            }
            _ => return None,
        };
        let d = b.get(at..)?;
        let (n, last) = block_check(d)?;
        let details = PackedCallDetails::from_checked(d.get(..n)?, last);
        let call = CallRecord {
            session,
            sequence,
            details,
        };
        Some((call, at + n))
    }

    /// A [`Record::CallUpdate`]'s body at the start of `b` (after its kind octet), its details
    /// block checked ([`block_check`]) and borrowed, not copied; `None` when it is incomplete
    /// or not valid, as [`Record::parse_short`] (which decodes that kind with it). A receiver
    /// merges a batch of this record alone into the call's held details straight from the
    /// datagram (`lns::replicate` docs, set-up batches).
    #[inline]
    pub(crate) fn call_update_short(b: &[u8]) -> Option<CallUpdateShort<'_>> {
        let h = b.first_chunk::<4>()?;
        let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let (tunnel, session) = (be(0), be(2));
        if tunnel == 0 || session == 0 {
            return None;
        }
        let d = b.get(4..)?;
        let (n, last) = block_check(d)?;
        Some(CallUpdateShort {
            tunnel,
            session,
            block: d.get(..n)?,
            last,
            len: 4 + n,
        })
    }

    /// As [`Record::parse_kind`], field by field.
    fn parse_fields(kind: u8, r: &mut Reader<'_>) -> Result<Record, RecordError> {
        let offset = r.offset().saturating_sub(1);
        Ok(match kind {
            TUNNEL => Record::Tunnel(Box::new(TunnelRecord::parse(r)?)),
            SESSION => Record::Session(SessionRecord::parse(r)?),
            SESSION_SEQUENCE => Record::SessionSequence {
                session: SessionRecord::parse(r)?,
                ns: r.u16(Field::Ns)?,
                nr: r.u16(Field::Nr)?,
            },
            SESSION_GONE => Record::SessionGone {
                tunnel: id(r, Field::Tunnel)?,
                session: id(r, Field::Session)?,
            },
            CALL => {
                let session = SessionRecord::parse(r)?;
                let flags = known_bits(r, Field::Flags, 0x01)?;
                let sequence = match flags {
                    0 => None,
                    _ => Some((r.u16(Field::Ns)?, r.u16(Field::Nr)?)),
                };
                let details = read_packed(r)?;
                Record::Call(Box::new(CallRecord {
                    session,
                    sequence,
                    details,
                }))
            }
            CALL_UPDATE => Record::CallUpdate {
                tunnel: id(r, Field::Tunnel)?,
                session: id(r, Field::Session)?,
                details: read_packed(r)?,
            },
            TUNNEL_GONE => Record::TunnelGone {
                tunnel: id(r, Field::Tunnel)?,
            },
            TUNNEL_SEQUENCE => Record::TunnelSequence {
                tunnel: id(r, Field::Tunnel)?,
                ns: r.u16(Field::Ns)?,
                nr: r.u16(Field::Nr)?,
            },
            TAKEN_OVER => Record::TakenOver {
                incarnation: r.u32(Field::Incarnation)?,
                tunnel: id(r, Field::Tunnel)?,
                epoch: r.u32(Field::Epoch)?,
            },
            CLAIMED => Record::Claimed {
                member: r.u32(Field::Member)?,
                incarnation: r.u32(Field::Incarnation)?,
                generation: r.u32(Field::Generation)?,
            },
            kind if EXTENSION_KINDS.contains(&kind) => {
                let len = usize::from(r.u16(Field::Length)?);
                let at = r.offset();
                let body = r.bytes(len, Field::Extension)?;
                match kind {
                    ADDRESS_TAKEN => {
                        let mut b = Reader::at(body, at);
                        let rec = Record::AddressTaken {
                            incarnation: b.u32(Field::Incarnation)?,
                            addr: read_ip(&mut b)?,
                        };
                        if b.remaining() != 0 {
                            return Err(RecordError::Invalid {
                                offset: b.offset(),
                                field: Field::Extension,
                            });
                        }
                        rec
                    }
                    _ => Record::Extension {
                        kind,
                        body: body.to_vec(),
                    },
                }
            }
            _ => {
                return Err(RecordError::Invalid {
                    offset,
                    field: Field::Kind,
                });
            }
        })
    }

    /// The octets [`Record::emit`] appends for a set-up's record (a session answered, with or
    /// without its tunnel's sequence numbers, or those alone: what an ICRP held for the
    /// backup waits on, `lns::replicate` docs), written at the start of `b`; how many (at most
    /// [`SETUP_RECORD_MAX`]). `None`, nothing written, for any other record.
    #[inline(always)]
    pub(crate) fn setup_octets(&self, b: &mut [u8; SETUP_RECORD_MAX]) -> Option<usize> {
        Some(match self {
            Record::Session(s) => s.octets(b),
            Record::SessionSequence { session, ns, nr } => {
                let n = session.octets(b);
                b[0] = SESSION_SEQUENCE;
                b[n..n + 2].copy_from_slice(&ns.to_be_bytes());
                b[n + 2..n + 4].copy_from_slice(&nr.to_be_bytes());
                n + 4
            }
            Record::TunnelSequence { tunnel, ns, nr } => {
                let [t0, t1] = tunnel.to_be_bytes();
                let [s0, s1] = ns.to_be_bytes();
                let [r0, r1] = nr.to_be_bytes();
                b[..7].copy_from_slice(&[TUNNEL_SEQUENCE, t0, t1, s0, s1, r0, r1]);
                7
            }
            _ => return None,
        })
    }

    /// As [`Record::setup_octets`], and for a [`Record::Call`] (a set-up's record when its
    /// call has details, module docs) too when its octets fit in `b`: written at the start of
    /// `b`; how many. `None`, nothing written, for any other record or a call that does not fit.
    #[inline(always)]
    pub(crate) fn setup_octets_in(&self, b: &mut [u8]) -> Option<usize> {
        let Record::Call(c) = self else {
            return self.setup_octets(b.first_chunk_mut::<SETUP_RECORD_MAX>()?);
        };
        let d = c.details.as_bytes();
        let mut h = [0u8; 18];
        let n = c.session.octets(&mut h);
        h[0] = CALL;
        let body = n + 1 + 4 * usize::from(c.sequence.is_some());
        let out = b.get_mut(..body + d.len())?;
        out[..n].copy_from_slice(&h[..n]);
        out[n] = u8::from(c.sequence.is_some());
        if let Some((ns, nr)) = c.sequence {
            out[n + 1..n + 3].copy_from_slice(&ns.to_be_bytes());
            out[n + 3..n + 5].copy_from_slice(&nr.to_be_bytes());
        }
        out[body..].copy_from_slice(d);
        Some(out.len())
    }

    /// Appends the record's octets to `buf`.
    pub fn emit(&self, buf: &mut impl BufMut) {
        match self {
            Record::Tunnel(t) => {
                buf.put_u8(TUNNEL);
                t.emit(buf);
            }
            // The records of a set-up, each written whole (one copy into `buf`).
            Record::Session(_) | Record::SessionSequence { .. } => {
                let mut b = [0u8; SETUP_RECORD_MAX];
                let n = self.setup_octets(&mut b).unwrap_or(0);
                buf.put_slice(&b[..n]);
            }
            Record::SessionGone { tunnel, session } => {
                let [t0, t1] = tunnel.to_be_bytes();
                let [s0, s1] = session.to_be_bytes();
                buf.put_slice(&[SESSION_GONE, t0, t1, s0, s1]);
            }
            Record::Call(c) => {
                let mut b = [0u8; 18];
                let n = c.session.octets(&mut b);
                b[0] = CALL;
                buf.put_slice(&b[..n]);
                buf.put_u8(u8::from(c.sequence.is_some()));
                if let Some((ns, nr)) = c.sequence {
                    buf.put_u16(ns);
                    buf.put_u16(nr);
                }
                buf.put_slice(c.details.as_bytes());
            }
            Record::CallUpdate {
                tunnel,
                session,
                details,
            } => {
                buf.put_u8(CALL_UPDATE);
                buf.put_u16(*tunnel);
                buf.put_u16(*session);
                buf.put_slice(details.as_bytes());
            }
            Record::TunnelGone { tunnel } => {
                buf.put_u8(TUNNEL_GONE);
                buf.put_u16(*tunnel);
            }
            Record::TunnelSequence { tunnel, ns, nr } => {
                let [t0, t1] = tunnel.to_be_bytes();
                let [s0, s1] = ns.to_be_bytes();
                let [r0, r1] = nr.to_be_bytes();
                buf.put_slice(&[TUNNEL_SEQUENCE, t0, t1, s0, s1, r0, r1]);
            }
            Record::TakenOver {
                incarnation,
                tunnel,
                epoch,
            } => {
                buf.put_u8(TAKEN_OVER);
                buf.put_u32(*incarnation);
                buf.put_u16(*tunnel);
                buf.put_u32(*epoch);
            }
            Record::Claimed {
                member,
                incarnation,
                generation,
            } => {
                buf.put_u8(CLAIMED);
                buf.put_u32(*member);
                buf.put_u32(*incarnation);
                buf.put_u32(*generation);
            }
            Record::AddressTaken { incarnation, addr } => {
                buf.put_u8(ADDRESS_TAKEN);
                let ip = if addr.is_ipv4() { 4 } else { 16 };
                buf.put_u16(4 + 1 + ip);
                buf.put_u32(*incarnation);
                put_ip(*addr, buf);
            }
            Record::Extension { kind, body } => {
                let body = body.get(..usize::from(u16::MAX)).unwrap_or(body);
                buf.put_u8(kind | 0x80);
                buf.put_u16(body.len() as u16);
                buf.put_slice(body);
            }
        }
    }

    /// The record's octets.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        self.emit(&mut v);
        v
    }

    /// What a bulk sync names this record by (tunnel, and session for a session record).
    pub fn key(&self) -> Option<RecordKey> {
        match self {
            Record::Tunnel(t) => Some((t.tunnel, None)),
            Record::Session(s) | Record::SessionSequence { session: s, .. } => {
                Some((s.tunnel, Some(s.session)))
            }
            Record::Call(c) => Some((c.session.tunnel, Some(c.session.session))),
            _ => None,
        }
    }
}

/// The unspecified IPv4 socket address (a placeholder for an address that does not parse).
pub const ANY: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// A replicated tunnel (`None`) or session: our Tunnel ID and Session ID.
pub type RecordKey = (u16, Option<u16>);

impl From<crate::replica::FrameError> for RecordError {
    fn from(e: crate::replica::FrameError) -> Self {
        RecordError::Frame(e)
    }
}

impl crate::replica::Replicated for Record {
    type Key = RecordKey;
    type Error = RecordError;

    #[inline]
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.emit(out);
    }

    fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, RecordError> {
        Record::parse_kind(kind, r)
    }

    /// A takeover notice or claim is a decision no bulk sync carries.
    fn survives_overflow(&self) -> bool {
        matches!(
            self,
            Record::TakenOver { .. } | Record::Claimed { .. } | Record::AddressTaken { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const UNSPECIFIED: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

    /// The module docs' format field by field (the reference of `emit_equals_field_by_field`;
    /// tunnel records, not on the set-up's path, are `Record::emit`'s).
    fn emit_fields(rec: &Record) -> Vec<u8> {
        let mut buf = Vec::new();
        match rec {
            Record::Session(s) => {
                let icrp_ns = s.icrp_ns.filter(|_| s.answered);
                buf.put_u8(SESSION);
                buf.put_u16(s.tunnel);
                buf.put_u16(s.session);
                buf.put_u16(s.peer_session);
                buf.put_u32(s.serial);
                buf.put_u8(
                    u8::from(s.sequencing)
                        | u8::from(s.load_balance_capable) << 1
                        | u8::from(s.answered) << 2
                        | u8::from(icrp_ns.is_some()) << 3,
                );
                buf.put_u16(s.data_ns);
                buf.put_u16(s.data_nr);
                if let Some(ns) = icrp_ns {
                    buf.put_u16(ns);
                }
            }
            Record::SessionGone { tunnel, session } => {
                buf.put_u8(SESSION_GONE);
                buf.put_u16(*tunnel);
                buf.put_u16(*session);
            }
            Record::TunnelSequence { tunnel, ns, nr } => {
                buf.put_u8(TUNNEL_SEQUENCE);
                buf.put_u16(*tunnel);
                buf.put_u16(*ns);
                buf.put_u16(*nr);
            }
            Record::SessionSequence { session, ns, nr } => {
                // Module docs: a Session body under kind 11, then ns and nr.
                let mut b = emit_fields(&Record::Session(*session));
                b[0] = SESSION_SEQUENCE;
                b.put_u16(*ns);
                b.put_u16(*nr);
                return b;
            }
            rec => rec.emit(&mut buf),
        }
        buf
    }

    /// Both record parses of `kind` over `b`: what each returns and how far each read.
    fn both_parses(kind: u8, b: &[u8]) -> [(Result<Record, RecordError>, usize); 2] {
        let (mut fast, mut fields) = (Reader::at(b, 1), Reader::at(b, 1));
        let a = Record::parse_kind(kind, &mut fast);
        let f = Record::parse_fields(kind, &mut fields);
        [(a, fast.offset()), (f, fields.offset())]
    }

    /// Whether a parsed record's call details keep the rank of their last item
    /// (`PackedCallDetails` docs: a merge appends by it), as an item-by-item read finds it.
    fn rank_kept(rec: &Record) -> bool {
        let d = match rec {
            Record::Call(c) => &c.details,
            Record::CallUpdate { details, .. } => details,
            _ => return true,
        };
        let slots = read_slots(&mut Reader::new(d.as_bytes())).unwrap();
        d.last_rank() == slots.iter().rposition(Option::is_some).unwrap_or(0)
    }

    proptest! {
        /// `Record::parse_kind` (the whole-record decode of the set-up's records) returns what the
        /// field-by-field parse does, records and errors, and reads as far, for any octets.
        #[test]
        fn short_records_parse_as_field_by_field(
            kind in prop::sample::select(vec![SESSION, SESSION_SEQUENCE, SESSION_GONE, TUNNEL_SEQUENCE, TUNNEL, CALL, CALL_UPDATE]),
            mut b in prop::collection::vec(any::<u8>(), 0..24),
            flags in prop::sample::select(vec![0u8, 1, 2, 4, 7, 0x0c, 0x0f, 0x08, 0x10, 0x80]),
            zero in 0usize..6,
        ) {
            // A session record's flags octet: the valid ones often, some refused.
            if let Some(f) = b.get_mut(10) {
                *f = flags;
            }
            // Often one of the three ids (tunnel, session, peer session) zero: refused.
            if let Some(id) = b.get_mut(2 * zero..2 * zero + 2).filter(|_| zero < 3) {
                id.fill(0);
            }
            let [fast, fields] = both_parses(kind, &b);
            prop_assert_eq!(fast, fields);
        }

        /// The same for every record emitted, cut at each length and with octets after it.
        #[test]
        fn emitted_records_parse_as_field_by_field(
            rec in crate::strategies::l2tp::replica_record(),
            extra in prop::collection::vec(any::<u8>(), 0..3),
        ) {
            let mut b = rec.to_vec();
            b.extend_from_slice(&extra);
            for end in 1..=b.len() {
                let [fast, fields] = both_parses(b[0], &b[1..end]);
                prop_assert_eq!(&fast, &fields);
                for parsed in [&fast.0, &fields.0].into_iter().flatten() {
                    prop_assert!(rank_kept(parsed));
                }
                if end == b.len() - extra.len() {
                    prop_assert_eq!(fast.0.as_ref().ok(), Some(&rec));
                }
            }
        }

        /// The same for every record emitted with one octet changed (a call's details block
        /// checked in one pass, [`block_check`], refuses what the item-by-item read refuses:
        /// an unknown or repeated type, items out of order, a long or cut octet string, a
        /// Proxy Authen Name without its type, a wrong count).
        #[test]
        fn changed_records_parse_as_field_by_field(
            rec in crate::strategies::l2tp::replica_record(),
            at in any::<prop::sample::Index>(),
            to in any::<u8>(),
        ) {
            let mut b = rec.to_vec();
            let i = at.index(b.len());
            b[i] = to;
            let [fast, fields] = both_parses(b[0], &b[1..]);
            prop_assert_eq!(&fast, &fields);
        }

        /// `Record::emit` (the set-up's records written whole) writes the octets of the
        /// field-by-field encoder of the module docs' format, into a `Vec` and a `BytesMut`.
        #[test]
        fn emit_equals_field_by_field(rec in crate::strategies::l2tp::replica_record()) {
            let mut b = bytes::BytesMut::new();
            rec.emit(&mut b);
            prop_assert_eq!(&b[..], &emit_fields(&rec)[..]);
            prop_assert_eq!(rec.to_vec(), emit_fields(&rec));
        }

        /// Module docs: every record survives emit then parse, and the octets are a fixed point.
        #[test]
        fn emit_parse_round_trip(rec in crate::strategies::l2tp::replica_record()) {
            let b = rec.to_vec();
            let back = Record::parse(&b).unwrap();
            prop_assert_eq!(&back, &rec);
            prop_assert_eq!(back.to_vec(), b);
        }
    }

    /// Module docs, extension kinds: a record of an extension kind this version does not know
    /// parses as [`Record::Extension`] (its body kept, the record written back as it came), and
    /// a batch carrying one between known records parses whole, so the receiver applies the
    /// others; a truncated one is refused, naming its body.
    #[test]
    fn unknown_extension_kinds_are_skipped_with_their_length() {
        let unknown = [0x9A, 0, 3, 0xDE, 0xAD, 0x01];
        let rec = Record::parse(&unknown).unwrap();
        assert_eq!(
            rec,
            Record::Extension {
                kind: 0x9A,
                body: vec![0xDE, 0xAD, 0x01]
            }
        );
        assert_eq!(rec.to_vec(), unknown);
        let empty = [0xFF, 0, 0];
        assert_eq!(Record::parse(&empty).unwrap().to_vec(), empty);
        assert!(matches!(
            Record::parse(&unknown[..5]),
            Err(RecordError::Truncated {
                field: Field::Extension,
                offset: 3,
                ..
            })
        ));
        // Kinds below 0x80 carry no length: one not known is refused, as before.
        assert!(matches!(
            Record::parse(&[0x7F, 0, 0]),
            Err(RecordError::Invalid {
                field: Field::Kind,
                offset: 0
            })
        ));
        let gone = Record::SessionGone {
            tunnel: 1,
            session: 2,
        };
        let mut batch = Vec::new();
        crate::replica::encode_batch(
            7,
            &[
                crate::replica::Entry::Item(rec.clone()),
                crate::replica::Entry::Item(gone.clone()),
            ],
            &mut batch,
        );
        let (seq, items) = crate::replica::parse_batch::<Record>(&mut Reader::new(&batch)).unwrap();
        assert_eq!(seq, 7);
        let items: Vec<_> = items.iter().filter_map(|e| e.item()).collect();
        assert_eq!(items, [&rec, &gone]);
    }

    /// A `Record` stays small in memory (`Record::Tunnel` boxed): the records of a set-up are
    /// moved several times on both members. The largest is a session with its tunnel's Ns/Nr
    /// (`Record::SessionSequence`: a session record's 24 octets and 4; one such record per
    /// set-up costs less than the 24-octet session record and sequence update it replaces).
    #[test]
    fn record_is_small() {
        let (rec, tunnel) = (size_of::<Record>(), size_of::<TunnelRecord>());
        println!("Record {rec} octets, TunnelRecord {tunnel}");
        assert!(rec <= 32 && rec < tunnel, "Record {rec} octets");
    }

    /// Module docs: a session record is 16 octets, 18 for an answered call with its ICRP's Ns
    /// (at most 256 per replicated session); a tunnel record with IPv6 addresses and
    /// the Failover Capability 71.
    #[test]
    fn record_sizes() {
        let mut rec = SessionRecord {
            tunnel: 1,
            session: 2,
            peer_session: 3,
            serial: 4,
            sequencing: true,
            load_balance_capable: false,
            data_ns: 5,
            data_nr: 6,
            answered: false,
            icrp_ns: None,
        };
        assert_eq!(Record::Session(rec).to_vec().len(), 16);
        rec.answered = true;
        rec.icrp_ns = Some(0x1234);
        let b = Record::Session(rec).to_vec();
        assert_eq!(b.len(), 18);
        assert_eq!((b[11], &b[16..]), (0x0d, &[0x12, 0x34][..]));
        // Module docs: an ICRP Ns without the answered flag is refused.
        let mut bad = b.clone();
        bad[11] = 0x09;
        assert!(matches!(
            Record::parse(&bad),
            Err(RecordError::Invalid {
                field: Field::Flags,
                offset: 11
            })
        ));
        let v6: SocketAddr = "[2001:db8::1]:1701".parse().unwrap();
        let t = Record::Tunnel(Box::new(TunnelRecord {
            tunnel: 1,
            peer_tunnel: 2,
            peer: v6,
            local: v6,
            ns: 0,
            nr: 0,
            peer_window: 4,
            peer_framing_capabilities: 3,
            peer_bearer_capabilities: Some(3),
            peer_load_balance_capable: true,
            peer_failover: Some(FailoverCapability::default()),
            hello_interval_ms: 60_000,
            epoch: 1,
        }));
        assert_eq!(t.to_vec().len(), 71);
        let q = Record::TunnelSequence {
            tunnel: 1,
            ns: 2,
            nr: 3,
        };
        assert_eq!(q.to_vec(), [9, 0, 1, 0, 2, 0, 3]);
        // Module docs, wire format: kind 10, member, incarnation, generation.
        let c = Record::Claimed {
            member: 2,
            incarnation: 0x0102_0304,
            generation: 7,
        };
        let b = c.to_vec();
        assert_eq!(b, [10, 0, 0, 0, 2, 1, 2, 3, 4, 0, 0, 0, 7]);
        assert_eq!(Record::parse(&b), Ok(c));
        // Module docs, wire format: extension kind 0x80, its length, incarnation, the address
        // without a port.
        let a = Record::AddressTaken {
            incarnation: 1,
            addr: "10.0.1.1".parse().unwrap(),
        };
        let ab = a.to_vec();
        assert_eq!(ab, [0x80, 0, 9, 0, 0, 0, 1, 4, 10, 0, 1, 1]);
        assert_eq!(Record::parse(&ab), Ok(a));
        let a6 = Record::AddressTaken {
            incarnation: 2,
            addr: "2001:db8::1".parse().unwrap(),
        };
        assert_eq!(a6.to_vec()[..3], [0x80, 0, 21]);
        assert_eq!(a6.to_vec().len(), 1 + 2 + 4 + 1 + 16);
        assert_eq!(Record::parse(&a6.to_vec()), Ok(a6));
        assert!(matches!(
            Record::parse(&[0x80, 0, 9, 0, 0, 0, 1, 5, 10, 0, 1, 1]),
            Err(RecordError::Invalid {
                field: Field::Family,
                offset: 7
            })
        ));
        // A known extension's body is its fields exactly (module docs, extension kinds).
        assert!(matches!(
            Record::parse(&[0x80, 0, 10, 0, 0, 0, 1, 4, 10, 0, 1, 1, 0]),
            Err(RecordError::Invalid {
                field: Field::Extension,
                offset: 12
            })
        ));
        assert!(matches!(
            Record::parse(&[0x80, 0, 12, 0, 0, 0, 1, 4, 10, 0, 1, 1]),
            Err(RecordError::Truncated {
                field: Field::Extension,
                offset: 3,
                ..
            })
        ));
        assert!(matches!(
            Record::parse(&b[..12]),
            Err(RecordError::Truncated {
                field: Field::Generation,
                offset: 9
            })
        ));
    }

    /// A BRAS's call (the bench's): a circuit id as Calling Number, the details of an ICRQ and
    /// an ICCN (RFC 2661 6.6, 6.8).
    fn bras_call() -> CallDetails {
        CallDetails {
            calling_number: Some(b"bras1 eth 0/1/2:100.200".to_vec()),
            called_number: Some(b"isp.example".to_vec()),
            bearer_type: Some(BearerType(BearerType::DIGITAL)),
            physical_channel_id: Some(7),
            framing_type: Some(FramingType(FramingType::SYNCHRONOUS)),
            tx_connect_speed: Some(100_000_000),
            rx_connect_speed: Some(20_000_000),
            ..CallDetails::default()
        }
    }

    fn a_session() -> SessionRecord {
        SessionRecord {
            tunnel: 1,
            session: 2,
            peer_session: 3,
            serial: 4,
            sequencing: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            answered: true,
            icrp_ns: Some(9),
        }
    }

    /// Module docs, wire format and call details: an answered call's record with the ICRQ's
    /// details of a BRAS call is 22 octets of session and sequence numbers, 2 of call flags and
    /// count, and its items; the ICCN's update 6 and its items; together far below the 256
    /// octets per replicated session.
    #[test]
    fn call_record_sizes() {
        let full = bras_call();
        let icrq = CallDetails {
            framing_type: None,
            tx_connect_speed: None,
            rx_connect_speed: None,
            ..full.clone()
        };
        let iccn = CallDetails {
            framing_type: full.framing_type,
            tx_connect_speed: full.tx_connect_speed,
            rx_connect_speed: full.rx_connect_speed,
            ..CallDetails::default()
        };
        let answered = Record::Call(Box::new(CallRecord {
            session: a_session(),
            sequence: Some((5, 6)),
            details: PackedCallDetails::new(&icrq),
        }));
        let b = answered.to_vec();
        // Bearer 5, Called Number 3 + 11, Calling Number 3 + 23, Physical Channel ID 5.
        assert_eq!(b.len(), 18 + 1 + 4 + 1 + 5 + 14 + 26 + 5);
        assert_eq!(b[0], CALL);
        assert_eq!(Record::parse(&b), Ok(answered));
        let update = Record::CallUpdate {
            tunnel: 1,
            session: 2,
            details: PackedCallDetails::new(&iccn),
        };
        let u = update.to_vec();
        assert_eq!(u.len(), 5 + 1 + 3 * 5);
        assert_eq!(
            u,
            [
                13, 0, 1, 0, 2, 3, 19, 0, 0, 0, 1, 24, 5, 0xf5, 0xe1, 0, 38, 1, 0x31, 0x2d, 0
            ]
        );
        assert_eq!(Record::parse(&u), Ok(update));
        assert!(b.len() + u.len() <= 256);
    }

    /// Module docs, call details: the proxy LCP and the proxy authentication's challenge, ID
    /// and response are not written (the PAP response is the password in clear); the type and
    /// the name are.
    #[test]
    fn proxy_secrets_are_not_written() {
        let mut d = bras_call();
        d.proxy_lcp.initial_received = Some(b"LCP-CONFREQ-SECRET".to_vec());
        d.proxy_auth = Some(ProxyAuth {
            kind: ProxyAuthenType::PAP,
            name: Some(b"alice@isp".to_vec()),
            challenge: Some(b"CHALLENGE-SECRET".to_vec()),
            id: Some(0x5a),
            response: Some(b"PASSWORD-SECRET".to_vec()),
        });
        let rec = Record::Call(Box::new(CallRecord {
            session: a_session(),
            sequence: None,
            details: PackedCallDetails::new(&d),
        }));
        let b = rec.to_vec();
        let has = |needle: &[u8]| b.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"alice@isp"));
        assert!(!has(b"SECRET"), "{b:02x?}");
        let Ok(Record::Call(back)) = Record::parse(&b) else {
            panic!("a call record")
        };
        assert_eq!(back.details.unpack(), d.replicable());
    }

    /// Module docs, call details: hostile details get typed errors naming where, never a panic.
    #[test]
    fn bad_call_details_refused() {
        let rec = |items: &[u8]| {
            let mut b = vec![CALL_UPDATE, 0, 1, 0, 2];
            b.extend_from_slice(items);
            Record::parse(&b)
        };
        let invalid = |offset| {
            Err(RecordError::Invalid {
                offset,
                field: Field::Details,
            })
        };
        // An unknown item type, a proxy secret's (33 Proxy Authen Response), a proxy LCP's.
        assert_eq!(rec(&[1, 40, 0, 0, 0, 0]), invalid(6));
        assert_eq!(rec(&[1, 33, 0, 1, b'x']), invalid(6));
        assert_eq!(rec(&[1, 26, 0, 1, b'x']), invalid(6));
        // Out of order, twice the same type.
        assert_eq!(rec(&[2, 24, 0, 0, 0, 1, 18, 0, 0, 0, 1]), invalid(11));
        assert_eq!(rec(&[2, 39, 39]), invalid(7));
        // A name without its type.
        assert_eq!(rec(&[1, 30, 0, 1, b'x']), invalid(6));
        // Longer than an AVP carries (MAX_VALUE_LEN + 1).
        let long = (MAX_VALUE_LEN + 1) as u16;
        let mut b = vec![1, 22];
        b.extend_from_slice(&long.to_be_bytes());
        b.resize(b.len() + usize::from(long), b'1');
        assert_eq!(rec(&b), invalid(7));
        // One at the bound is taken.
        let mut b = vec![1, 22];
        b.extend_from_slice(&(MAX_VALUE_LEN as u16).to_be_bytes());
        b.resize(b.len() + MAX_VALUE_LEN, b'1');
        assert!(rec(&b).is_ok());
        // Truncated: a count beyond the items, a value cut short.
        assert!(matches!(
            rec(&[2, 39]),
            Err(RecordError::Truncated {
                field: Field::Details,
                ..
            })
        ));
        assert!(matches!(
            rec(&[1, 22, 0, 5, b'1']),
            Err(RecordError::Truncated { .. })
        ));
        // Unknown call flags.
        let mut c = Record::Call(Box::new(CallRecord {
            session: a_session(),
            sequence: None,
            details: PackedCallDetails::new(&CallDetails::default()),
        }))
        .to_vec();
        c[18] = 2;
        assert_eq!(
            Record::parse(&c),
            Err(RecordError::Invalid {
                offset: 18,
                field: Field::Flags
            })
        );
    }

    /// RFC 2661 3.1: ids are non-zero; unknown kinds and families, short and long input refused.
    #[test]
    fn bad_records_refused() {
        assert!(matches!(
            Record::parse(&[7, 0, 0]),
            Err(RecordError::Invalid {
                field: Field::Tunnel,
                offset: 1
            })
        ));
        assert!(matches!(
            Record::parse(&[4]),
            Err(RecordError::Invalid {
                field: Field::Kind,
                ..
            })
        ));
        assert!(matches!(
            Record::parse(&[7, 0]),
            Err(RecordError::Truncated { .. })
        ));
        assert_eq!(Record::parse(&[7, 0, 1, 0]), Err(RecordError::Trailing(1)));
        assert!(Record::parse(&[]).is_err());
        let mut t = Record::Tunnel(Box::new(TunnelRecord {
            tunnel: 1,
            peer_tunnel: 2,
            peer: UNSPECIFIED,
            local: UNSPECIFIED,
            ns: 0,
            nr: 0,
            peer_window: 4,
            peer_framing_capabilities: 3,
            peer_bearer_capabilities: None,
            peer_load_balance_capable: false,
            peer_failover: None,
            hello_interval_ms: 1,
            epoch: 0,
        }))
        .to_vec();
        t[5] = 5;
        assert!(matches!(
            Record::parse(&t),
            Err(RecordError::Invalid {
                field: Field::Family,
                offset: 5
            })
        ));
    }
}
