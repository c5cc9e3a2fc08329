//! The heartbeat wire format (version 1).
//!
//! A heartbeat is one UDP datagram, big-endian throughout:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------+---------------+---------------+---------------+
//! |   0xFF        |  0x48 ('H')   |  0x42 ('B')   |  version = 1  |  0
//! +---------------+---------------+---------------+---------------+
//! |                            node id                            |  4
//! +---------------+---------------+---------------+---------------+
//! |     role      | load percent  | address count | reserved = 0  |  8
//! +---------------+---------------+---------------+---------------+
//! |                          incarnation                          | 12
//! +---------------+---------------+---------------+---------------+
//! |                       sequence (64 bits)                      | 16
//! |                                                               |
//! +---------------+---------------+---------------+---------------+
//! |                           load used                           | 24
//! +---------------+---------------+---------------+---------------+
//! |                         load capacity                         | 28
//! +---------------+---------------+---------------+---------------+
//! | address count times: family (4 or 6), then 4 or 16 octets     | 32
//! +---------------+---------------+---------------+---------------+
//! |              HMAC-MD5 over octets 0 .. here (16 octets)       |
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! * The magic `FF 48 42` lets a heartbeat share a UDP port with the subsystems' protocols
//!   ([`is_heartbeat`]): an L2TP header's first octet never has its reserved bits `0x2C` set and
//!   its second octet carries the version (2 or 3) in its low nibble, not 8; a Mobile IP message
//!   starts with type 1 or 3; a GTPv1 header starts with `0x3x`, GTPv2 with `0x4x`.
//! * `load percent` is 0..=100; `address count` is at most [`MAX_ADDRESSES`]; `reserved` is zero.
//! * The MAC is HMAC-MD5 (RFC 2104) keyed by the [`ClusterKey`] over every octet before it. A
//!   message is at most [`MAX_LEN`] octets; anything after the MAC is refused.
//!
//! Round trip:
//!
//! ```
//! use telcp::health::{ClusterKey, Heartbeat, Load, NodeId, Role};
//! let key = ClusterKey::new(b"the cluster secret");
//! let hb = Heartbeat {
//!     node: NodeId(7),
//!     role: Role::LNS,
//!     incarnation: 3,
//!     sequence: 42,
//!     load: Load::new(30, 100),
//!     addresses: Default::default(),
//! };
//! let bytes = hb.to_bytes(&key);
//! assert!(telcp::health::is_heartbeat(&bytes));
//! assert_eq!(bytes.len(), hb.encoded_len());
//! assert_eq!(Heartbeat::parse(&bytes, &key), Ok(hb));
//! ```

use crate::io::Reader;
use arrayvec::ArrayVec;
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The first three octets of every heartbeat.
pub const MAGIC: [u8; 3] = [0xFF, 0x48, 0x42];
/// The wire format version this module speaks.
pub const VERSION: u8 = 1;
/// Length of the fixed header before the address list.
pub const HEADER_LEN: usize = 32;
/// Length of the HMAC-MD5 trailer.
pub const MAC_LEN: usize = crate::io::auth::TAG_LEN;
/// Most addresses a heartbeat may carry.
pub const MAX_ADDRESSES: usize = 8;
/// Longest valid heartbeat: header, [`MAX_ADDRESSES`] IPv6 addresses, MAC.
pub const MAX_LEN: usize = HEADER_LEN + MAX_ADDRESSES * 17 + MAC_LEN;

const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// Whether `data` starts like a heartbeat (magic prefix), so a caller sharing a UDP port between a
/// protocol and heartbeats can tell them apart before parsing. It does not check anything else.
pub fn is_heartbeat(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

/// A node's identity within a cluster.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// What a node does in its cluster (an open code point: unknown values survive parse and emit).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Role(pub u8);

impl Role {
    /// An L2TP Network Server of a load-balancing pool.
    pub const LNS: Role = Role(1);
    /// The contact LNS of a pool (the one LACs call first).
    pub const CONTACT_LNS: Role = Role(2);
    /// A Mobile IP Home Agent of a virtual-HA cluster.
    pub const HOME_AGENT: Role = Role(3);
    /// The switch processor of a steering gateway.
    pub const SWITCH_PROCESSOR: Role = Role(4);
    /// A processor of a steering gateway.
    pub const PROCESSOR: Role = Role(5);
    /// A line interface of a steering gateway.
    pub const LINE_INTERFACE: Role = Role(6);
}

/// A node's load: how much of its capacity is in use, and a 0-100 figure.
///
/// The percentage is carried separately because it may reflect more than `used / capacity` (CPU,
/// memory); [`Load::new`] derives it from the counts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Load {
    /// Units in use (sessions, bindings, contexts).
    pub used: u32,
    /// Units the node can hold.
    pub capacity: u32,
    /// Overall load, 0..=100.
    pub percent: u8,
}

impl Load {
    /// A load whose percentage is `used * 100 / capacity` (rounded up, capped at 100; 100 when
    /// `capacity` is 0).
    pub fn new(used: u32, capacity: u32) -> Load {
        let percent = if capacity == 0 {
            100
        } else {
            let p = (u64::from(used) * 100).div_ceil(u64::from(capacity));
            p.min(100) as u8
        };
        Load {
            used,
            capacity,
            percent,
        }
    }

    /// Spare units: `capacity - used`, 0 when full.
    pub fn spare(&self) -> u32 {
        self.capacity.saturating_sub(self.used)
    }
}

/// The shared secret that authenticates heartbeats (and from which the cluster's other keys
/// are derived): the crate's one HMAC-MD5 key type, [`HmacMd5Key`](crate::io::HmacMd5Key),
/// which it dereferences to, with the length of the key it was made from, so that a
/// configuration can refuse one under [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) octets
/// ([`ConfigError::KeyTooShort`](super::ConfigError::KeyTooShort)). `Debug` shows neither.
#[derive(Clone)]
pub struct ClusterKey {
    /// The prepared HMAC-MD5 key.
    key: crate::io::HmacMd5Key,
    /// Octets of the key given to [`ClusterKey::new`].
    len: usize,
}

impl ClusterKey {
    /// A key from any octets (a configuration refuses fewer than
    /// [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN)).
    pub fn new(key: &[u8]) -> ClusterKey {
        ClusterKey {
            key: crate::io::HmacMd5Key::new(key),
            len: key.len(),
        }
    }

    /// Octets of the key this was made from.
    pub fn key_len(&self) -> usize {
        self.len
    }

    /// `Ok` when the key has at least [`MIN_KEY_LEN`](crate::io::auth::MIN_KEY_LEN) octets (RFC
    /// 2104 section 3: no shorter than the hash's 16).
    ///
    /// # Errors
    /// [`ConfigError::KeyTooShort`](super::ConfigError::KeyTooShort) otherwise.
    pub(crate) fn check_len(&self) -> Result<(), super::ConfigError> {
        let min = crate::io::auth::MIN_KEY_LEN;
        if self.len < min {
            return Err(super::ConfigError::KeyTooShort {
                octets: self.len,
                min,
            });
        }
        Ok(())
    }
}

impl std::ops::Deref for ClusterKey {
    type Target = crate::io::HmacMd5Key;
    fn deref(&self) -> &crate::io::HmacMd5Key {
        &self.key
    }
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

crate::io::reader::wire_fields! {
    /// A field of a heartbeat, named in its [`WireError`]s.
    pub enum Field for WireError {} {
        Magic => "magic",
        Version => "version",
        NodeId => "node id",
        Role => "role",
        LoadPercent => "load percent",
        AddressCount => "address count",
        Reserved => "reserved",
        Incarnation => "incarnation",
        Sequence => "sequence",
        LoadUsed => "load used",
        LoadCapacity => "load capacity",
        AddressFamily => "address family",
        Ipv4Address => "IPv4 address",
        Ipv6Address => "IPv6 address",
        Mac => "mac",
    }
}

/// Why a datagram is not a valid heartbeat. Offsets count from the first octet of the datagram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The datagram ends inside `field`, which starts at `offset`.
    #[error("heartbeat truncated in {field} at offset {offset}")]
    Truncated {
        /// Where the missing field starts.
        offset: usize,
        /// The field that is cut short.
        field: Field,
    },
    /// The datagram does not start with the heartbeat magic.
    #[error("not a heartbeat: bad magic at offset {offset}")]
    BadMagic {
        /// Offset of the magic (0).
        offset: usize,
    },
    /// A version this implementation does not speak.
    #[error("unsupported heartbeat version {version} at offset {offset}")]
    UnsupportedVersion {
        /// Offset of the version octet.
        offset: usize,
        /// The version found.
        version: u8,
    },
    /// A field holds a value the format does not allow.
    #[error("invalid heartbeat {field} at offset {offset}")]
    Invalid {
        /// Offset of the field.
        offset: usize,
        /// The field.
        field: Field,
    },
    /// Octets follow the MAC (or the datagram is longer than [`MAX_LEN`]).
    #[error("heartbeat too long: unexpected octets at offset {offset} after the {field}")]
    Trailing {
        /// Offset of the first unexpected octet.
        offset: usize,
        /// What was expected to end there.
        field: Field,
    },
    /// The HMAC-MD5 does not match under the cluster key.
    #[error("heartbeat {field} at offset {offset} does not authenticate")]
    BadMac {
        /// Offset of the MAC.
        offset: usize,
        /// The field ([`Field::Mac`]).
        field: Field,
    },
}

/// One heartbeat: who is alive, since when, in which order, how loaded, at which addresses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Heartbeat {
    /// The sender.
    pub node: NodeId,
    /// The sender's role.
    pub role: Role,
    /// Bumped each time the sender restarts.
    pub incarnation: u32,
    /// Increases with every heartbeat within one incarnation.
    pub sequence: u64,
    /// The sender's load.
    pub load: Load,
    /// Addresses the sender serves (virtual addresses, tunnel endpoints), at most
    /// [`MAX_ADDRESSES`].
    pub addresses: ArrayVec<IpAddr, MAX_ADDRESSES>,
}

impl Heartbeat {
    /// Octets [`Heartbeat::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        let addrs: usize = self
            .addresses
            .iter()
            .map(|a| if a.is_ipv4() { 5 } else { 17 })
            .sum();
        HEADER_LEN + addrs + MAC_LEN
    }

    /// Writes the heartbeat, authenticated under `key`. A load percentage above 100 is written as
    /// 100.
    pub fn emit(&self, key: &ClusterKey, buf: &mut impl BufMut) {
        let mut body: ArrayVec<u8, MAX_LEN> = ArrayVec::new();
        let mut push = |s: &[u8]| {
            // Cannot overflow: the body is at most MAX_LEN - MAC_LEN octets by construction.
            let _ = body.try_extend_from_slice(s);
        };
        push(&MAGIC);
        push(&[VERSION]);
        push(&self.node.0.to_be_bytes());
        push(&[
            self.role.0,
            self.load.percent.min(100),
            self.addresses.len() as u8,
            0,
        ]);
        push(&self.incarnation.to_be_bytes());
        push(&self.sequence.to_be_bytes());
        push(&self.load.used.to_be_bytes());
        push(&self.load.capacity.to_be_bytes());
        for a in &self.addresses {
            match a {
                IpAddr::V4(v4) => {
                    push(&[FAMILY_V4]);
                    push(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    push(&[FAMILY_V6]);
                    push(&v6.octets());
                }
            }
        }
        buf.put_slice(&body);
        buf.put_slice(&key.tag(&body));
    }

    /// The heartbeat as one datagram.
    pub fn to_bytes(&self, key: &ClusterKey) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.emit(key, &mut b);
        b.freeze()
    }

    /// Parses and authenticates one datagram. Structure is checked first (magic, version, fields,
    /// length), then the MAC; nothing is copied out of `data` but fixed-size fields.
    pub fn parse(data: &[u8], key: &ClusterKey) -> Result<Heartbeat, WireError> {
        let mut r = Reader::new(data);
        let magic = r.bytes(MAGIC.len(), Field::Magic)?;
        if magic != MAGIC {
            return Err(WireError::BadMagic { offset: 0 });
        }
        let vo = r.offset();
        let version = r.u8(Field::Version)?;
        if version != VERSION {
            return Err(WireError::UnsupportedVersion {
                offset: vo,
                version,
            });
        }
        let node = NodeId(r.u32(Field::NodeId)?);
        let role = Role(r.u8(Field::Role)?);
        let po = r.offset();
        let percent = r.u8(Field::LoadPercent)?;
        if percent > 100 {
            return Err(WireError::Invalid {
                offset: po,
                field: Field::LoadPercent,
            });
        }
        let co = r.offset();
        let count = usize::from(r.u8(Field::AddressCount)?);
        if count > MAX_ADDRESSES {
            return Err(WireError::Invalid {
                offset: co,
                field: Field::AddressCount,
            });
        }
        let ro = r.offset();
        if r.u8(Field::Reserved)? != 0 {
            return Err(WireError::Invalid {
                offset: ro,
                field: Field::Reserved,
            });
        }
        let incarnation = r.u32(Field::Incarnation)?;
        let sequence = r.u64(Field::Sequence)?;
        let used = r.u32(Field::LoadUsed)?;
        let capacity = r.u32(Field::LoadCapacity)?;
        let addresses = parse_addresses(&mut r, count)?;
        let mo = r.offset();
        r.bytes(MAC_LEN, Field::Mac)?;
        if !r.is_empty() {
            return Err(WireError::Trailing {
                offset: r.offset(),
                field: Field::Mac,
            });
        }
        if key.open(data, mo).is_err() {
            return Err(WireError::BadMac {
                offset: mo,
                field: Field::Mac,
            });
        }
        Ok(Heartbeat {
            node,
            role,
            incarnation,
            sequence,
            load: Load {
                used,
                capacity,
                percent,
            },
            addresses,
        })
    }
}

/// `count` addresses, each a family octet (4 or 6) and the address.
fn parse_addresses(
    r: &mut Reader<'_>,
    count: usize,
) -> Result<ArrayVec<IpAddr, MAX_ADDRESSES>, WireError> {
    let mut addresses = ArrayVec::new();
    for _ in 0..count {
        let fo = r.offset();
        let addr = match r.u8(Field::AddressFamily)? {
            FAMILY_V4 => IpAddr::V4(r.addr(Field::Ipv4Address)?),
            FAMILY_V6 => {
                let hi = r.u64(Field::Ipv6Address)?;
                let lo = r.u64(Field::Ipv6Address)?;
                IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 64) | u128::from(lo)))
            }
            _ => {
                return Err(WireError::Invalid {
                    offset: fo,
                    field: Field::AddressFamily,
                });
            }
        };
        // Cannot fail: count <= MAX_ADDRESSES.
        let _ = addresses.try_push(addr);
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key() -> ClusterKey {
        ClusterKey::new(b"test cluster key")
    }

    fn sample() -> Heartbeat {
        let mut addresses = ArrayVec::new();
        addresses.push(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        addresses.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
        Heartbeat {
            node: NodeId(0x0102_0304),
            role: Role::HOME_AGENT,
            incarnation: 9,
            sequence: 1 << 40,
            load: Load::new(50, 200),
            addresses,
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let b = sample().to_bytes(&key());
        assert_eq!(&b[..4], &[0xFF, 0x48, 0x42, 1]);
        assert_eq!(&b[4..8], &[1, 2, 3, 4]);
        assert_eq!(&b[8..12], &[3, 25, 2, 0]);
        assert_eq!(&b[12..16], &9u32.to_be_bytes());
        assert_eq!(&b[16..24], &(1u64 << 40).to_be_bytes());
        assert_eq!(&b[24..28], &50u32.to_be_bytes());
        assert_eq!(&b[28..32], &200u32.to_be_bytes());
        assert_eq!(&b[32..37], &[4, 192, 0, 2, 1]);
        assert_eq!(b[37], 6);
        assert_eq!(b.len(), 32 + 5 + 17 + 16);
    }

    #[test]
    fn magic_cannot_be_another_protocol() {
        let b = sample().to_bytes(&key());
        // L2TP: reserved bits of octet 0 are set, version nibble of octet 1 is 8.
        assert_ne!(b[0] & 0x2C, 0);
        assert!(!matches!(b[1] & 0x0F, 2 | 3));
        // Mobile IP RRQ/RRP types, GTPv1 and GTPv2 first octets.
        assert!(!matches!(b[0], 1 | 3));
        assert_ne!(b[0] & 0xF0, 0x30);
        assert_ne!(b[0] & 0xF0, 0x40);
        assert!(!is_heartbeat(&[0xC8, 0x02]));
        assert!(!is_heartbeat(&[1, 0, 0]));
        assert!(!is_heartbeat(&[0x32, 0xFF]));
    }

    #[test]
    fn refusals_are_typed() {
        let k = key();
        let b = sample().to_bytes(&k);
        assert_eq!(
            Heartbeat::parse(&b, &ClusterKey::new(b"other")),
            Err(WireError::BadMac {
                offset: 54,
                field: Field::Mac
            })
        );
        assert_eq!(
            Heartbeat::parse(&b[..10], &k),
            Err(WireError::Truncated {
                offset: 10,
                field: Field::AddressCount
            })
        );
        assert_eq!(
            Heartbeat::parse(&b[..b.len() - 1], &k),
            Err(WireError::Truncated {
                offset: 54,
                field: Field::Mac
            })
        );
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(
            Heartbeat::parse(&long, &k),
            Err(WireError::Trailing {
                offset: 70,
                field: Field::Mac
            })
        );
    }

    #[test]
    fn header_refusals_are_typed() {
        let k = key();
        let b = sample().to_bytes(&k);
        let mut v = b.to_vec();
        v[3] = 2;
        assert_eq!(
            Heartbeat::parse(&v, &k),
            Err(WireError::UnsupportedVersion {
                offset: 3,
                version: 2
            })
        );
        let mut m = b.to_vec();
        m[0] = 0xC8;
        assert_eq!(
            Heartbeat::parse(&m, &k),
            Err(WireError::BadMagic { offset: 0 })
        );
        let mut p = b.to_vec();
        p[9] = 101;
        assert_eq!(
            Heartbeat::parse(&p, &k),
            Err(WireError::Invalid {
                offset: 9,
                field: Field::LoadPercent
            })
        );
        let mut c = b.to_vec();
        c[10] = 9;
        assert_eq!(
            Heartbeat::parse(&c, &k),
            Err(WireError::Invalid {
                offset: 10,
                field: Field::AddressCount
            })
        );
        let mut f = b.to_vec();
        f[32] = 5;
        assert_eq!(
            Heartbeat::parse(&f, &k),
            Err(WireError::Invalid {
                offset: 32,
                field: Field::AddressFamily
            })
        );
        // Any flipped bit in the signed part fails the MAC (or an earlier check).
        for i in 0..54 {
            let mut x = b.to_vec();
            x[i] ^= 0x01;
            assert!(Heartbeat::parse(&x, &k).is_err(), "octet {i}");
        }
    }

    #[test]
    fn load_new() {
        assert_eq!(Load::new(0, 0).percent, 100);
        assert_eq!(Load::new(1, 3).percent, 34);
        assert_eq!(Load::new(5, 3).percent, 100);
        assert_eq!(Load::new(5, 3).spare(), 0);
    }
}

#[cfg(all(test, feature = "proptest"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn key() -> ClusterKey {
        ClusterKey::new(b"test cluster key")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn parse_emit_round_trip(hb in crate::strategies::health::heartbeat()) {
            let k = key();
            let b = hb.to_bytes(&k);
            prop_assert_eq!(b.len(), hb.encoded_len());
            prop_assert_eq!(Heartbeat::parse(&b, &k), Ok(hb));
        }

        #[test]
        fn emit_parse_round_trip(b in crate::strategies::health::signed_bytes(b"k")) {
            let k = key();
            if let Ok(hb) = Heartbeat::parse(&b, &k) {
                let out = hb.to_bytes(&k);
                prop_assert_eq!(out.as_ref(), &b[..]);
            }
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Heartbeat::parse(&b, &key());
        }
    }
}
