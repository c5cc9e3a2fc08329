//! HA-to-HA messages of a virtual Home Agent cluster, authenticated with the cluster key.
//!
//! Every message is a [`crate::replica::Envelope`] with magic `FE 4D 43` ("\xfeMC") and version
//! 1: kind, 2 reserved octets, sender node id (u32), sender incarnation (u32), packet number (u64,
//! never reused by a sender within an incarnation), the body, then an HMAC-MD5 over everything
//! before it (16 octets). A receiver refuses a bad MAC ([`ClusterError::BadMac`]) and a replayed
//! or too old packet number ([`ReplayWindow`], 64 packets wide, reset when the incarnation grows).
//!
//! Kinds: [`Body::Forward`] (layer-3 forwarding of a request to the second HA),
//! [`Body::Relay`] (the second HA's reply back to the first HA in layer-3 mode), [`Body::Notice`]
//! (layer-2 mode: "the next request of this mobile node with this identification is yours"),
//! [`Body::Replicate`] (reliable, numbered batches to the backups: [`Item`]s (upserts, removals,
//! takeover decisions, what a bulk sync holds) and the bulk-sync markers, [`crate::replica`]'s
//! framing, [`crate::replica::Frame`]) and [`Body::Ack`].
//! Heartbeats (health and load) are `health` heartbeats sharing the port.

use super::binding::{BindingState, MAX_SIMULTANEOUS, TunnelParams};
pub use super::wire::WireError;
use super::wire::{Field, Reader};
use crate::health::NodeId;
use crate::replica::{self, Envelope, FrameError, Header, OpenError, Replicated};
pub use crate::replica::{Entry, ReplayWindow};
use bytes::BufMut;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

mod seal;
pub use seal::{KEY_WRAP_INFO, KeyWrap, NONCE_LEN, SealedKey, TAG_LEN};
use seal::{get_key, put_key};

/// First octets of every cluster message.
pub const MAGIC: [u8; 3] = [0xFE, b'M', b'C'];
/// Format version.
pub const VERSION: u8 = 1;
/// Header length.
pub const HEADER_LEN: usize = replica::HEADER_LEN;
/// MAC length.
pub const MAC_LEN: usize = crate::io::auth::TAG_LEN;
/// Most items in one replication batch.
pub const MAX_ITEMS: usize = replica::MAX_ITEMS;
/// The cluster messages' envelope.
const ENVELOPE: Envelope = Envelope::new(MAGIC, VERSION);

/// Whether `data` looks like a cluster message (magic), so it can share port 434.
pub fn is_cluster_message(data: &[u8]) -> bool {
    ENVELOPE.is_mine(data)
}

/// Why a cluster message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Not a cluster message, or an unknown version or kind.
    #[error("not a cluster message of a known version and kind")]
    Unknown,
    /// The MAC does not verify with the cluster key.
    #[error("bad cluster MAC")]
    BadMac,
    /// A replicated record's sealed MN-HA key does not open ([`KeyWrap::open`]): the whole
    /// message is refused and nothing it carries is applied.
    #[error("a replicated MN-HA key does not open with the cluster's key-wrapping key")]
    KeyRefused,
    /// Replayed, too old, or from an older incarnation.
    #[error("replayed cluster message from node {node} (packet {pn})")]
    Replayed {
        /// The sender.
        node: u32,
        /// Its packet number.
        pn: u64,
    },
}

/// The replication framing's errors as the cluster's (the same fields, an unknown shape).
impl From<FrameError> for ClusterError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Truncated {
                offset,
                field,
                needed,
            } => {
                let field = match field {
                    replica::Field::BatchSequence => Field::BatchSequence,
                    replica::Field::ItemCount => Field::ItemCount,
                    replica::Field::ItemKind => Field::ItemKind,
                    _ => Field::Epoch,
                };
                ClusterError::Wire(WireError::Truncated {
                    offset,
                    field,
                    needed,
                })
            }
            _ => ClusterError::Unknown,
        }
    }
}

impl From<crate::io::Short<Field>> for ClusterError {
    fn from(s: crate::io::Short<Field>) -> Self {
        ClusterError::Wire(s.into())
    }
}

/// What a replicated binding holds, by state (RFC 5944 section 3.8: a temporary binding is a
/// forwarded request awaiting its reply, a permanent one the granted registration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordState {
    /// A forwarded request: the care-of address it asks for and the time left on its pending
    /// timer (carried in milliseconds, saturating at `u32::MAX`).
    Temporary {
        /// The requested care-of address.
        care_of: Ipv4Addr,
        /// Time left before the temporary binding is freed.
        pending_left: Duration,
    },
    /// A granted registration: each care-of address with its remaining lifetime (`None`: infinite,
    /// RFC 5944 section 3.3 lifetime 0xffff; carried in whole seconds, at most `u32::MAX - 1`).
    Permanent {
        /// Granted care-of addresses (at most [`MAX_SIMULTANEOUS`] are carried).
        care_of: Vec<(Ipv4Addr, Option<Duration>)>,
    },
}

/// A replicated binding as the serving HA (or the first HA, for temporary bindings) sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Home address.
    pub home_address: Ipv4Addr,
    /// NAI.
    pub nai: Option<Box<[u8]>>,
    /// First HA.
    pub first_ha: NodeId,
    /// Second (serving) HA.
    pub second_ha: NodeId,
    /// Where replies go.
    pub fa: SocketAddr,
    /// Last accepted identification (or the pending one, for a temporary binding).
    pub identification: u64,
    /// Temporary or permanent, with the data of that state.
    pub state: RecordState,
    /// The binding's tunnel (`None`: plain IP-in-IP from the virtual address), so a takeover
    /// serves it as granted; carried as [`TunnelParams::to_record`] after a length octet.
    pub tunnel: Option<TunnelParams>,
    /// The MN-HA key the mobile node got from AAA, if any (`HomeAgent::provide_key`), so that a
    /// takeover needs no new key request: sealed under the cluster's key-wrapping key
    /// ([`KeyWrap`], XChaCha20-Poly1305), never in clear on the link.
    pub key: Option<SealedKey>,
    /// RFC 3543 registration revocation negotiated with the binding's foreign agent (`fa`):
    /// `Some(i)`, with `i` the I bit both agents set; `None` when not negotiated. A member that
    /// takes the binding over revokes it with what was negotiated. On the wire one octet after
    /// the key: 0 none, 1 negotiated, 2 negotiated with the I bit.
    pub revocation: Option<bool>,
}

/// Key bytes whose `Debug` hides them (never in clear in events or `Debug` output).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Box<[u8]>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

/// An MN-HA key from AAA held for a replicated binding (HMAC-MD5), in clear: what
/// [`KeyWrap::seal`] seals into a record's [`SealedKey`] and [`KeyWrap::open`] gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordKey {
    /// The security parameter index (RFC 5944 section 3.5.1).
    pub spi: u32,
    /// The key, 1 to 255 bytes (its `Debug` hides it).
    pub key: Secret,
    /// Time left on the key's lifetime (carried in whole seconds, saturating at `u32::MAX`).
    pub left: Duration,
}

impl Record {
    /// Whether the record is a temporary or a permanent binding.
    pub fn binding_state(&self) -> BindingState {
        match self.state {
            RecordState::Temporary { .. } => BindingState::Temporary,
            RecordState::Permanent { .. } => BindingState::Permanent,
        }
    }
}

/// Infinite remaining lifetime on the wire.
const INFINITE_SECS: u32 = u32::MAX;

/// One replicated change (the bulk-sync markers around them are [`Entry::SyncBegin`] and
/// [`Entry::SyncEnd`]; item kinds 1, 2, 3, 6 and 7).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A binding created or changed.
    Upsert(Record),
    /// A binding removed (deregistration or expiry).
    Remove {
        /// Home address.
        home_address: Ipv4Addr,
        /// NAI.
        nai: Option<Box<[u8]>>,
    },
    /// The bindings served by `failed` are now served by `owner`, as decided by `coordinator`.
    /// Two decisions for the same failed HA are resolved by the lowest coordinator id, then the
    /// lowest owner id.
    Takeover {
        /// The HA found Down.
        failed: NodeId,
        /// The backup chosen by load.
        owner: NodeId,
        /// The HA that chose the owner.
        coordinator: NodeId,
    },
    /// In a bulk sync: the sender holds this binding and names the receiver as its server (the
    /// receiver notes it as seen; nothing changes).
    Holds {
        /// Home address.
        home_address: Ipv4Addr,
        /// NAI.
        nai: Option<Box<[u8]>>,
    },
    /// The sender accepted the mobile node's deregistration (RFC 5944 section 3.8.3: lifetime 0)
    /// for a binding another member serves (or one it did not hold), of all its care-of
    /// addresses or of one (simultaneous bindings, S bit: section 3.6.1.3): in a binding older
    /// than `identification` (the request's), wherever it is held, that care-of address goes
    /// (the binding with its last one), or all of them; its server removes the tunnels. On the
    /// wire: home address, NAI, identification (u64), care-of address (0.0.0.0: all).
    Deregistered {
        /// Home address.
        home_address: Ipv4Addr,
        /// NAI.
        nai: Option<Box<[u8]>>,
        /// The accepted deregistration's Identification (RFC 5944 section 3.8.3).
        identification: u64,
        /// The care-of address deregistered; `None`: all of them (the request's care-of
        /// address was the home address, or 0.0.0.0).
        care_of: Option<Ipv4Addr>,
    },
}

/// A cluster message body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body<'a> {
    /// A Registration Request forwarded unchanged (layer-3 mode), with the address it came from.
    Forward {
        /// The foreign agent (source of the request).
        fa: SocketAddr,
        /// The request's UDP payload.
        request: &'a [u8],
    },
    /// A Registration Reply from the second HA to the first HA (layer-3 mode).
    Relay {
        /// The reply's UDP payload.
        reply: &'a [u8],
    },
    /// Layer-2 mode: the next request of this mobile node with this identification will arrive
    /// on the virtual address and is the receiver's to serve.
    Notice {
        /// Home address in the request.
        home_address: Ipv4Addr,
        /// NAI in the request.
        nai: Option<&'a [u8]>,
        /// The request's identification.
        identification: u64,
    },
    /// A numbered batch of replicated changes ([`crate::replica::Frame::Replicate`]).
    Replicate {
        /// Sequence number (per receiver), acknowledged by [`Body::Ack`].
        seq: u64,
        /// The changes and bulk-sync markers, in order.
        items: Vec<Entry<Item>>,
    },
    /// Acknowledges a [`Body::Replicate`].
    Ack {
        /// The acknowledged sequence number.
        seq: u64,
    },
}

/// A cluster message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterMessage<'a> {
    /// Sender.
    pub sender: NodeId,
    /// Sender's incarnation.
    pub incarnation: u32,
    /// Sender's packet number.
    pub pn: u64,
    /// Body.
    pub body: Body<'a>,
}

fn put_sock<B: BufMut>(out: &mut B, a: SocketAddr) {
    let (ip, port) = match a {
        SocketAddr::V4(v) => (*v.ip(), v.port()),
        SocketAddr::V6(v) => (Ipv4Addr::UNSPECIFIED, v.port()),
    };
    out.put_slice(&ip.octets());
    out.put_u16(port);
}

fn put_nai<B: BufMut>(out: &mut B, nai: Option<&[u8]>) {
    let n = nai.map(|n| n.get(..255).unwrap_or(n)).unwrap_or(&[]);
    out.put_u8(n.len() as u8);
    out.put_slice(n);
}

fn get_sock(r: &mut Reader<'_>) -> Result<SocketAddr, WireError> {
    let ip = r.addr(Field::SocketAddress)?;
    let port = r.u16(Field::SocketPort)?;
    Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
}

fn get_nai<'a>(r: &mut Reader<'a>) -> Result<Option<&'a [u8]>, WireError> {
    let n = usize::from(r.u8(Field::NaiLength)?);
    let b = r.bytes(n, Field::Nai)?;
    Ok(if b.is_empty() { None } else { Some(b) })
}

/// The cluster key, prepared once: the crate's one HMAC-MD5 key type.
pub use crate::io::HmacMd5Key as ClusterMac;

impl ClusterMessage<'_> {
    /// Encodes and authenticates the message with `key`.
    pub fn to_vec(&self, key: &[u8]) -> Vec<u8> {
        self.to_vec_with(&ClusterMac::new(key))
    }

    /// Encodes and authenticates the message with a prepared key.
    pub fn to_vec_with(&self, key: &ClusterMac) -> Vec<u8> {
        let kind = match &self.body {
            Body::Forward { .. } => 1,
            Body::Relay { .. } => 2,
            Body::Notice { .. } => 3,
            Body::Replicate { .. } => replica::KIND_REPLICATE,
            Body::Ack { .. } => replica::KIND_ACK,
        };
        let header = Header {
            kind,
            sender: self.sender,
            incarnation: self.incarnation,
            pn: self.pn,
        };
        ENVELOPE.seal(key, &header, |out| match &self.body {
            Body::Forward { fa, request } => {
                put_sock(out, *fa);
                out.put_slice(request);
            }
            Body::Relay { reply } => out.put_slice(reply),
            Body::Notice {
                home_address,
                nai,
                identification,
            } => {
                out.put_slice(&home_address.octets());
                put_nai(out, *nai);
                out.put_u64(*identification);
            }
            Body::Replicate { seq, items } => replica::encode_batch(*seq, items, out),
            Body::Ack { seq } => out.put_u64(*seq),
        })
    }
}

fn put_item<B: BufMut>(out: &mut B, i: &Item) {
    match i {
        Item::Upsert(r) => {
            out.put_u8(1);
            out.put_slice(&r.home_address.octets());
            put_nai(out, r.nai.as_deref());
            out.put_u8(match r.state {
                RecordState::Temporary { .. } => 0,
                RecordState::Permanent { .. } => 1,
            });
            out.put_u32(r.first_ha.0);
            out.put_u32(r.second_ha.0);
            put_sock(out, r.fa);
            out.put_u64(r.identification);
            match &r.state {
                RecordState::Temporary {
                    care_of,
                    pending_left,
                } => {
                    out.put_u8(1);
                    out.put_slice(&care_of.octets());
                    out.put_u32(pending_left.as_millis().min(u128::from(u32::MAX)) as u32);
                }
                RecordState::Permanent { care_of } => {
                    let c = care_of.get(..MAX_SIMULTANEOUS).unwrap_or(care_of);
                    out.put_u8(c.len() as u8);
                    for (a, left) in c {
                        out.put_slice(&a.octets());
                        out.put_u32(left.map_or(INFINITE_SECS, |d| {
                            d.as_secs().min(u64::from(INFINITE_SECS - 1)) as u32
                        }));
                    }
                }
            }
            let t = r.tunnel.as_ref().map(TunnelParams::to_record);
            let t = t.as_deref().unwrap_or_default();
            out.put_u8(t.len() as u8);
            out.put_slice(t);
            put_key(out, r.key.as_ref());
            out.put_u8(match r.revocation {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            });
        }
        Item::Remove { home_address, nai } => {
            out.put_u8(2);
            out.put_slice(&home_address.octets());
            put_nai(out, nai.as_deref());
        }
        Item::Takeover {
            failed,
            owner,
            coordinator,
        } => {
            out.put_u8(3);
            out.put_u32(failed.0);
            out.put_u32(owner.0);
            out.put_u32(coordinator.0);
        }
        Item::Holds { home_address, nai } => {
            out.put_u8(6);
            out.put_slice(&home_address.octets());
            put_nai(out, nai.as_deref());
        }
        Item::Deregistered {
            home_address,
            nai,
            identification,
            care_of,
        } => {
            out.put_u8(7);
            out.put_slice(&home_address.octets());
            put_nai(out, nai.as_deref());
            out.put_u64(*identification);
            out.put_slice(&care_of.unwrap_or(Ipv4Addr::UNSPECIFIED).octets());
        }
    }
}

fn get_item(kind: u8, r: &mut Reader<'_>) -> Result<Item, ClusterError> {
    Ok(match kind {
        1 => {
            let home_address = r.addr(Field::HomeAddress)?;
            let nai = get_nai(r)?.map(Box::from);
            let temporary = match r.u8(Field::RecordState)? {
                0 => true,
                1 => false,
                _ => return Err(ClusterError::Unknown),
            };
            let first_ha = NodeId(r.u32(Field::FirstHa)?);
            let second_ha = NodeId(r.u32(Field::SecondHa)?);
            let fa = get_sock(r)?;
            let identification = r.u64(Field::Identification)?;
            let n = usize::from(r.u8(Field::CareOfCount)?);
            // A temporary binding carries exactly its requested care-of address.
            if n > MAX_SIMULTANEOUS || (temporary && n != 1) {
                return Err(ClusterError::Unknown);
            }
            let mut care_of = Vec::with_capacity(n);
            for _ in 0..n {
                care_of.push((
                    r.addr(Field::CareOfAddress)?,
                    r.u32(Field::CareOfRemaining)?,
                ));
            }
            let state = match care_of.first() {
                Some(&(care_of, ms)) if temporary => RecordState::Temporary {
                    care_of,
                    pending_left: Duration::from_millis(u64::from(ms)),
                },
                _ => RecordState::Permanent {
                    care_of: care_of
                        .into_iter()
                        .map(|(a, secs)| {
                            let left = (secs != INFINITE_SECS)
                                .then(|| Duration::from_secs(u64::from(secs)));
                            (a, left)
                        })
                        .collect(),
                },
            };
            let n = usize::from(r.u8(Field::TunnelLength)?);
            let tunnel = match r.bytes(n, Field::Tunnel)? {
                [] => None,
                b => Some(TunnelParams::from_record(b).ok_or(ClusterError::Unknown)?),
            };
            let key = get_key(r)?;
            let revocation = match r.u8(Field::RevocationFlags)? {
                0 => None,
                1 => Some(false),
                2 => Some(true),
                _ => return Err(ClusterError::Unknown),
            };
            Item::Upsert(Record {
                home_address,
                nai,
                first_ha,
                second_ha,
                fa,
                identification,
                state,
                tunnel,
                key,
                revocation,
            })
        }
        2 => Item::Remove {
            home_address: r.addr(Field::HomeAddress)?,
            nai: get_nai(r)?.map(Box::from),
        },
        3 => Item::Takeover {
            failed: NodeId(r.u32(Field::FailedHa)?),
            owner: NodeId(r.u32(Field::Owner)?),
            coordinator: NodeId(r.u32(Field::Coordinator)?),
        },
        6 => Item::Holds {
            home_address: r.addr(Field::HomeAddress)?,
            nai: get_nai(r)?.map(Box::from),
        },
        7 => Item::Deregistered {
            home_address: r.addr(Field::HomeAddress)?,
            nai: get_nai(r)?.map(Box::from),
            identification: r.u64(Field::Identification)?,
            care_of: Some(r.addr(Field::CareOfAddress)?).filter(|a| !a.is_unspecified()),
        },
        _ => return Err(ClusterError::Unknown),
    })
}

/// The Home Agent's items in the replication framing: the binding table slot is what a bulk
/// sync names; takeover decisions survive a queue overflow (they are not table state).
impl Replicated for Item {
    type Key = u32;
    type Error = ClusterError;

    fn encode<B: BufMut>(&self, out: &mut B) {
        put_item(out, self);
    }

    fn parse(kind: u8, r: &mut Reader<'_>) -> Result<Self, ClusterError> {
        get_item(kind, r)
    }

    fn survives_overflow(&self) -> bool {
        matches!(self, Item::Takeover { .. })
    }
}

impl<'a> ClusterMessage<'a> {
    /// Verifies the MAC with `key` and parses. Replay is the caller's check ([`ReplayWindow`]).
    pub fn parse(data: &'a [u8], key: &[u8]) -> Result<ClusterMessage<'a>, ClusterError> {
        Self::parse_with(data, &ClusterMac::new(key))
    }

    /// [`ClusterMessage::parse`] with a prepared key.
    pub fn parse_with(
        data: &'a [u8],
        key: &ClusterMac,
    ) -> Result<ClusterMessage<'a>, ClusterError> {
        let (header, body) = ENVELOPE.open(key, data).map_err(|e| match e {
            OpenError::Truncated { needed } => ClusterError::Wire(WireError::Truncated {
                offset: data.len(),
                field: Field::ClusterMessage,
                needed,
            }),
            OpenError::BadMac => ClusterError::BadMac,
            _ => ClusterError::Unknown,
        })?;
        let mut r = Reader::at(body, HEADER_LEN);
        let Header {
            kind,
            sender,
            incarnation,
            pn,
        } = header;
        let body = match kind {
            1 => {
                let fa = get_sock(&mut r)?;
                Body::Forward {
                    fa,
                    request: r.bytes(r.remaining(), Field::ForwardedRequest)?,
                }
            }
            2 => Body::Relay {
                reply: r.bytes(r.remaining(), Field::RelayedReply)?,
            },
            3 => Body::Notice {
                home_address: r.addr(Field::HomeAddress)?,
                nai: get_nai(&mut r)?,
                identification: r.u64(Field::Identification)?,
            },
            replica::KIND_REPLICATE => {
                let (seq, items) = replica::parse_batch::<Item>(&mut r)?;
                Body::Replicate { seq, items }
            }
            replica::KIND_ACK => Body::Ack {
                seq: replica::parse_ack::<Item>(&mut r)?,
            },
            _ => return Err(ClusterError::Unknown),
        };
        if !r.is_empty() {
            return Err(ClusterError::Unknown);
        }
        Ok(ClusterMessage {
            sender,
            incarnation,
            pn,
            body,
        })
    }
}

#[cfg(test)]
mod tests;
