//! Registration Revocation and Registration Revocation Acknowledgement (RFC 3543 sections 3.3
//! and 3.4), UDP port 434, message types 7 and 15. Both carry extensions after a fixed part and
//! are authenticated by a Foreign-Home Authentication extension (type 34) whose authenticator
//! covers the fixed part, every earlier extension and its own type, length and SPI (RFC 3543
//! section 3.3, as RFC 5944 section 3.5.1).
//!
//! ```
//! use std::net::Ipv4Addr;
//! use telcp::mip::wire::{Revocation, RevocationFlags};
//!
//! let rev = Revocation {
//!     flags: RevocationFlags(RevocationFlags::A | RevocationFlags::I),
//!     home_address: Ipv4Addr::new(10, 0, 0, 5),
//!     home_domain: Ipv4Addr::new(192, 0, 2, 1),
//!     foreign_domain: Ipv4Addr::new(198, 51, 100, 7),
//!     revocation_id: 0x5F5E_1001,
//!     reserved: 0,
//!     extensions: Vec::new(),
//! };
//! let bytes = rev.to_vec();
//! assert_eq!(Revocation::parse(&bytes).unwrap(), rev);
//! ```

use super::auth::{AuthError, PreparedKey};
use super::{AuthRef, Extension, ExtensionType, Field, MessageType, Reader, WireError};
use bytes::BufMut;
use std::net::Ipv4Addr;

/// Length of the fixed part of a Registration Revocation.
pub const REVOCATION_FIXED_LEN: usize = 20;
/// Length of the fixed part of a Registration Revocation Acknowledgement.
pub const REVOCATION_ACK_FIXED_LEN: usize = 12;

/// The 16 flag bits of a Registration Revocation (A, I) or Acknowledgement (I) after the
/// reserved octet. Open: reserved bits are kept for exact round trips.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct RevocationFlags(pub u16);

impl RevocationFlags {
    /// A: the revocation is sent by the home domain's agent (the home agent), RFC 3543 3.3.
    /// Revocation only.
    pub const A: u16 = 0x8000;
    /// I (Revocation): the home agent asks the foreign agent to inform the mobile node; only set
    /// when the I bit was negotiated at registration. I (Acknowledgement): the foreign agent
    /// informed the mobile node.
    pub const I: u16 = 0x4000;
    /// I in an Acknowledgement (it has no A bit: the I bit is its first).
    pub const ACK_I: u16 = 0x8000;

    /// The A bit (Revocation).
    pub const fn a(self) -> bool {
        self.0 & Self::A != 0
    }
    /// The I bit of a Revocation.
    pub const fn i(self) -> bool {
        self.0 & Self::I != 0
    }
}

/// A Registration Revocation (RFC 3543 section 3.3): type 7, reserved, flags (A, I), the
/// revoked binding's home address, the home domain address (the HA's), the foreign domain
/// address (the FA's care-of address), the Revocation Identifier (a timestamp, greater than
/// the one sent in the registration's Revocation Support extension and in any earlier
/// revocation), then extensions (the FA-HA authentication last).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Revocation<'a> {
    /// The reserved octet after the type (kept).
    pub reserved: u8,
    /// Flags: [`RevocationFlags::A`], [`RevocationFlags::I`].
    pub flags: RevocationFlags,
    /// The mobile node's home address.
    pub home_address: Ipv4Addr,
    /// Home domain address: the home agent's.
    pub home_domain: Ipv4Addr,
    /// Foreign domain address: the foreign agent's (care-of) address.
    pub foreign_domain: Ipv4Addr,
    /// Revocation Identifier.
    pub revocation_id: u32,
    /// Extensions, in wire order.
    pub extensions: Vec<Extension<'a>>,
}

/// A Registration Revocation Acknowledgement (RFC 3543 section 3.4): type 15, reserved, flags
/// (I), the home address and the Revocation Identifier of the revocation it acknowledges, then
/// extensions (the FA-HA authentication last).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RevocationAck<'a> {
    /// The reserved octet after the type (kept).
    pub reserved: u8,
    /// Flags: [`RevocationFlags::ACK_I`].
    pub flags: RevocationFlags,
    /// The mobile node's home address.
    pub home_address: Ipv4Addr,
    /// The acknowledged Revocation Identifier.
    pub revocation_id: u32,
    /// Extensions, in wire order.
    pub extensions: Vec<Extension<'a>>,
}

fn parse_type(r: &mut Reader<'_>, want: MessageType) -> Result<(), WireError> {
    let t = r.u8(Field::Type)?;
    if t != want.0 {
        return Err(WireError::UnsupportedMessage {
            offset: 0,
            value: t,
        });
    }
    Ok(())
}

fn parse_extensions<'a>(r: &mut Reader<'a>) -> Result<Vec<Extension<'a>>, WireError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(Extension::parse(r)?);
    }
    Ok(v)
}

/// How many leading bytes the authenticator of extension `index` covers.
fn authenticated_len(fixed: usize, exts: &[Extension<'_>], index: usize) -> Option<usize> {
    let hdr = exts.get(index)?.auth_header_len()?;
    Some(
        fixed
            + exts[..index]
                .iter()
                .map(Extension::encoded_len)
                .sum::<usize>()
            + hdr,
    )
}

impl<'a> Revocation<'a> {
    /// Parses one complete UDP payload; opaque extension values borrow from `data`.
    pub fn parse(data: &'a [u8]) -> Result<Revocation<'a>, WireError> {
        let mut r = Reader::new(data);
        parse_type(&mut r, MessageType::REGISTRATION_REVOCATION)?;
        Ok(Revocation {
            reserved: r.u8(Field::RevocationReserved)?,
            flags: RevocationFlags(r.u16(Field::Flags)?),
            home_address: r.addr(Field::HomeAddress)?,
            home_domain: r.addr(Field::HomeDomainAddress)?,
            foreign_domain: r.addr(Field::ForeignDomainAddress)?,
            revocation_id: r.u32(Field::RevocationIdentifier)?,
            extensions: parse_extensions(&mut r)?,
        })
    }

    /// Encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        REVOCATION_FIXED_LEN
            + self
                .extensions
                .iter()
                .map(Extension::encoded_len)
                .sum::<usize>()
    }

    /// Writes the message.
    pub fn emit(&self, out: &mut impl BufMut) {
        out.put_u8(MessageType::REGISTRATION_REVOCATION.0);
        out.put_u8(self.reserved);
        out.put_u16(self.flags.0);
        out.put_slice(&self.home_address.octets());
        out.put_slice(&self.home_domain.octets());
        out.put_slice(&self.foreign_domain.octets());
        out.put_u32(self.revocation_id);
        for e in &self.extensions {
            e.emit(out);
        }
    }

    /// The encoded message in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.emit(&mut v);
        v
    }

    /// A copy that owns its opaque values.
    pub fn into_owned(self) -> Revocation<'static> {
        Revocation {
            reserved: self.reserved,
            flags: self.flags,
            home_address: self.home_address,
            home_domain: self.home_domain,
            foreign_domain: self.foreign_domain,
            revocation_id: self.revocation_id,
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
        }
    }

    /// Verifies the one FA-HA authentication extension (the last, RFC 3543 section 3.3) with
    /// the prepared key of SPI `spi`, over `raw`, the bytes this message was parsed from.
    /// Constant-time comparison.
    pub fn verify_fa_ha(&self, raw: &[u8], spi: u32, key: &PreparedKey) -> Result<(), AuthError> {
        let fa_ha = ExtensionType::FA_HA_AUTH;
        verify_last(&self.extensions, REVOCATION_FIXED_LEN, raw, spi, key, fa_ha)
    }

    /// Verifies the one MN-HA authentication extension (the last): a home agent revoking the
    /// binding of a mobile node with a co-located care-of address sends it the Registration
    /// Revocation directly, under their mobility security association (RFC 3543 section 3.3).
    /// Otherwise as [`Revocation::verify_fa_ha`].
    pub fn verify_mn_ha(&self, raw: &[u8], spi: u32, key: &PreparedKey) -> Result<(), AuthError> {
        let mn_ha = ExtensionType::MN_HA_AUTH;
        verify_last(&self.extensions, REVOCATION_FIXED_LEN, raw, spi, key, mn_ha)
    }

    /// How many leading bytes the authenticator of extension `index` protects, `None` when it
    /// is not an authentication extension.
    pub fn authenticated_len(&self, index: usize) -> Option<usize> {
        authenticated_len(REVOCATION_FIXED_LEN, &self.extensions, index)
    }
}

impl<'a> RevocationAck<'a> {
    /// Parses one complete UDP payload; opaque extension values borrow from `data`.
    pub fn parse(data: &'a [u8]) -> Result<RevocationAck<'a>, WireError> {
        let mut r = Reader::new(data);
        parse_type(&mut r, MessageType::REGISTRATION_REVOCATION_ACK)?;
        Ok(RevocationAck {
            reserved: r.u8(Field::RevocationReserved)?,
            flags: RevocationFlags(r.u16(Field::Flags)?),
            home_address: r.addr(Field::HomeAddress)?,
            revocation_id: r.u32(Field::RevocationIdentifier)?,
            extensions: parse_extensions(&mut r)?,
        })
    }

    /// Encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        REVOCATION_ACK_FIXED_LEN
            + self
                .extensions
                .iter()
                .map(Extension::encoded_len)
                .sum::<usize>()
    }

    /// Writes the message.
    pub fn emit(&self, out: &mut impl BufMut) {
        out.put_u8(MessageType::REGISTRATION_REVOCATION_ACK.0);
        out.put_u8(self.reserved);
        out.put_u16(self.flags.0);
        out.put_slice(&self.home_address.octets());
        out.put_u32(self.revocation_id);
        for e in &self.extensions {
            e.emit(out);
        }
    }

    /// The encoded message in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.emit(&mut v);
        v
    }

    /// A copy that owns its opaque values.
    pub fn into_owned(self) -> RevocationAck<'static> {
        RevocationAck {
            reserved: self.reserved,
            flags: self.flags,
            home_address: self.home_address,
            revocation_id: self.revocation_id,
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
        }
    }

    /// How many leading bytes the authenticator of extension `index` protects, `None` when it
    /// is not an authentication extension.
    pub fn authenticated_len(&self, index: usize) -> Option<usize> {
        authenticated_len(REVOCATION_ACK_FIXED_LEN, &self.extensions, index)
    }

    /// Verifies the one FA-HA authentication extension (the last, RFC 3543 section 3.4), as
    /// [`Revocation::verify_fa_ha`].
    pub fn verify_fa_ha(&self, raw: &[u8], spi: u32, key: &PreparedKey) -> Result<(), AuthError> {
        let fa_ha = ExtensionType::FA_HA_AUTH;
        verify_last(
            &self.extensions,
            REVOCATION_ACK_FIXED_LEN,
            raw,
            spi,
            key,
            fa_ha,
        )
    }

    /// Verifies the one MN-HA authentication extension (the last): the acknowledgement of a
    /// mobile node with a co-located care-of address, as [`Revocation::verify_mn_ha`].
    pub fn verify_mn_ha(&self, raw: &[u8], spi: u32, key: &PreparedKey) -> Result<(), AuthError> {
        let mn_ha = ExtensionType::MN_HA_AUTH;
        verify_last(
            &self.extensions,
            REVOCATION_ACK_FIXED_LEN,
            raw,
            spi,
            key,
            mn_ha,
        )
    }
}

/// Exactly one authentication extension of type `kind` (FA-HA or MN-HA), the last one, with SPI
/// `spi` and a valid authenticator.
fn verify_last(
    exts: &[Extension<'_>],
    fixed: usize,
    raw: &[u8],
    spi: u32,
    key: &PreparedKey,
    kind: ExtensionType,
) -> Result<(), AuthError> {
    let index = exts
        .len()
        .checked_sub(1)
        .ok_or(AuthError::Missing { index: 0 })?;
    let fa_ha = |e: &Extension<'_>| e.ext_type() == kind;
    if !exts.last().is_some_and(fa_ha) || exts.iter().filter(|e| fa_ha(e)).count() != 1 {
        return Err(AuthError::Missing { index });
    }
    let (got, authenticator) = exts[index]
        .spi_and_authenticator()
        .ok_or(AuthError::Missing { index })?;
    let covered_len = authenticated_len(fixed, exts, index).ok_or(AuthError::Missing { index })?;
    AuthRef {
        spi: got,
        authenticator,
        covered_len,
    }
    .verify_prepared(raw, spi, key)
}
