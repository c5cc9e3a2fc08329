//! Registration extensions (RFC 5944 section 3.5 and the RFCs that add types).

use super::{Field, Reader, WireError};
use bytes::BufMut;
use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;

/// A registration extension type. Open: unknown values are kept. Types 0..=127 must be understood
/// by the receiver, types 128..=255 may be skipped.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionType(pub u8);

impl ExtensionType {
    /// Mobile-Home Authentication (RFC 5944).
    pub const MN_HA_AUTH: ExtensionType = ExtensionType(32);
    /// Mobile-Foreign Authentication (RFC 5944).
    pub const MN_FA_AUTH: ExtensionType = ExtensionType(33);
    /// Foreign-Home Authentication (RFC 5944).
    pub const FA_HA_AUTH: ExtensionType = ExtensionType(34);
    /// Generalized Mobile IP Authentication (RFC 3012, RFC 4721): 2-byte length after a subtype.
    pub const GENERALIZED_AUTH: ExtensionType = ExtensionType(36);
    /// Critical Vendor/Organization Specific Extension (RFC 3115): 2-byte length after a reserved
    /// octet.
    pub const CVSE: ExtensionType = ExtensionType(38);
    /// UDP Tunnel Reply (RFC 3519).
    pub const UDP_TUNNEL_REPLY: ExtensionType = ExtensionType(44);
    /// Proxy Mobile IPv4 Non-skippable Extension (RFC 5563): 2-byte length after a subtype.
    pub const PMIPV4_NON_SKIPPABLE: ExtensionType = ExtensionType(47);
    /// GRE Key (RFC 6245 section 3, the Mobile IPv4 twin of RFC 5845's Proxy Mobile IPv6
    /// option): 2-byte length after a sub-type.
    pub const GRE_KEY: ExtensionType = ExtensionType(48);
    /// Mobile Node NAI (RFC 2794).
    pub const MN_NAI: ExtensionType = ExtensionType(131);
    /// Normal Vendor/Organization Specific Extension (RFC 3115).
    pub const NVSE: ExtensionType = ExtensionType(134);
    /// Revocation Support (RFC 3543).
    pub const REVOCATION_SUPPORT: ExtensionType = ExtensionType(137);
    /// Dynamic HA (RFC 4433).
    pub const DYNAMIC_HA: ExtensionType = ExtensionType(139);
    /// UDP Tunnel Request (RFC 3519).
    pub const UDP_TUNNEL_REQUEST: ExtensionType = ExtensionType(144);

    /// Types 128..=255 may be skipped by a receiver that does not know them.
    pub const fn is_skippable(self) -> bool {
        self.0 >= 128
    }

    /// Whether this type uses the long format (type, one octet, 2-byte length): 36 (RFC 3012),
    /// 38 (RFC 3115), 47 (RFC 5563) and 48 (RFC 6245 section 3).
    pub const fn is_long_format(self) -> bool {
        matches!(self.0, 36 | 38 | 47 | 48)
    }

    /// Whether this codec models the type with a typed [`Extension`] variant.
    pub const fn is_modelled(self) -> bool {
        matches!(
            self.0,
            32 | 33 | 34 | 36 | 38 | 44 | 47 | 48 | 131 | 134 | 137 | 139 | 144
        )
    }

    /// The constant's name, or `None` for a type this crate does not model.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            32 => "MN_HA_AUTH",
            33 => "MN_FA_AUTH",
            34 => "FA_HA_AUTH",
            36 => "GENERALIZED_AUTH",
            38 => "CVSE",
            44 => "UDP_TUNNEL_REPLY",
            47 => "PMIPV4_NON_SKIPPABLE",
            48 => "GRE_KEY",
            131 => "MN_NAI",
            134 => "NVSE",
            137 => "REVOCATION_SUPPORT",
            139 => "DYNAMIC_HA",
            144 => "UDP_TUNNEL_REQUEST",
            _ => return None,
        })
    }
}

impl fmt::Debug for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "ExtensionType::{n}({})", self.0),
            None => write!(f, "ExtensionType({})", self.0),
        }
    }
}

/// The 3GPP2 Vendor/Organization ID (SMI enterprise number 5535) of the CVSEs 3GPP2 defines
/// (RFC 3115 section 3; 3GPP2 X.S0011-003).
pub const VENDOR_3GPP2: u32 = 5535;
/// The 3GPP2 CVSE type of the GRE Key CVSE (X.S0011-003): 0x0401. Its value is the 32-bit GRE
/// key (RFC 2890) that names the mobile node's GRE tunnel between the PDSN (the foreign agent)
/// and the home agent.
pub const CVSE_3GPP2_GRE_KEY: u16 = 0x0401;
/// Subtype of the Generalized Authentication extension: MN-AAA (RFC 3012).
pub const GEN_AUTH_MN_AAA: u8 = 1;
/// Sub-type of the GRE Key extension (RFC 6245 section 3): 0, the only one assigned.
pub const GRE_KEY_SUBTYPE: u8 = 0;
/// Subtype of the Dynamic HA extension: Requested HA (RFC 4433).
pub const DYNAMIC_HA_REQUESTED: u8 = 1;
/// Subtype of the Dynamic HA extension: Redirected HA (RFC 4433).
pub const DYNAMIC_HA_REDIRECTED: u8 = 2;
/// Revocation Support flag: the I bit (RFC 3543).
pub const REVOCATION_I_BIT: u16 = 0x8000;
/// UDP Tunnel Request flag F (RFC 3519 section 3.1): UDP tunnelling forced, NAT or not.
pub const UDP_TUNNEL_F: u8 = 0x80;
/// UDP Tunnel Request flag R (RFC 3519 section 3.1): registration through the FA required.
pub const UDP_TUNNEL_R: u8 = 0x40;
/// UDP Tunnel Reply flag F (RFC 3519 section 3.2): the HA uses UDP tunnelling because forced.
pub const UDP_TUNNEL_REPLY_F: u16 = 0x8000;
/// UDP Tunnel Reply code 0 (RFC 3519 section 3.2): the HA will tunnel over UDP.
pub const UDP_TUNNEL_WILL_TUNNEL: u8 = 0;
/// UDP Tunnel Reply code 64 (RFC 3519 section 3.2): UDP tunnelling declined, reason unspecified.
pub const UDP_TUNNEL_DECLINED: u8 = 64;

/// One registration extension. Opaque values are [`Cow`]: borrowed from the datagram after a
/// parse, owned after [`Extension::into_owned`].
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Extension<'a> {
    /// Mobile-Home (32), Mobile-Foreign (33) or Foreign-Home (34) authentication:
    /// type, length, SPI, authenticator.
    Auth {
        /// 32, 33 or 34.
        ext_type: ExtensionType,
        /// Security Parameter Index.
        spi: u32,
        /// The authenticator (16 bytes for HMAC-MD5 and keyed MD5).
        authenticator: Cow<'a, [u8]>,
    },
    /// Generalized authentication (36): type, subtype, 2-byte length, SPI, authenticator.
    GeneralizedAuth {
        /// Subtype ([`GEN_AUTH_MN_AAA`] = MN-AAA).
        subtype: u8,
        /// Security Parameter Index.
        spi: u32,
        /// The authenticator.
        authenticator: Cow<'a, [u8]>,
    },
    /// Mobile Node NAI (131).
    Nai(Cow<'a, [u8]>),
    /// Revocation Support (137): flags (I bit) and the revocation timestamp.
    RevocationSupport {
        /// Flags; [`REVOCATION_I_BIT`] is the I bit.
        flags: u16,
        /// Registration revocation timestamp.
        timestamp: u32,
    },
    /// Dynamic HA (139): Requested or Redirected HA address.
    DynamicHa {
        /// [`DYNAMIC_HA_REQUESTED`] or [`DYNAMIC_HA_REDIRECTED`].
        subtype: u8,
        /// The home agent address.
        home_agent: Ipv4Addr,
    },
    /// Critical vendor extension (38): type, reserved, 2-byte length, vendor, vendor type, value.
    Cvse {
        /// The reserved octet (kept for exact round trips).
        reserved: u8,
        /// Vendor/Organization ID (SMI enterprise number).
        vendor_id: u32,
        /// Vendor CVSE type.
        vendor_type: u16,
        /// Vendor CVSE value.
        value: Cow<'a, [u8]>,
    },
    /// Normal vendor extension (134): type, length, reserved, vendor, vendor type, value.
    Nvse {
        /// The reserved 16 bits (kept for exact round trips).
        reserved: u16,
        /// Vendor/Organization ID (SMI enterprise number).
        vendor_id: u32,
        /// Vendor NVSE type.
        vendor_type: u16,
        /// Vendor NVSE value.
        value: Cow<'a, [u8]>,
    },
    /// UDP Tunnel Request (144, RFC 3519).
    UdpTunnelRequest {
        /// Subtype.
        subtype: u8,
        /// Reserved octet.
        reserved1: u8,
        /// Flags: F (0x80, forced), R (0x40, FA registration required).
        flags: u8,
        /// Encapsulation (4 IP-in-IP, 47 GRE, 55 minimal).
        encapsulation: u8,
        /// Reserved 16 bits.
        reserved2: u16,
    },
    /// UDP Tunnel Reply (44, RFC 3519).
    UdpTunnelReply {
        /// Subtype.
        subtype: u8,
        /// Reply code (0 will tunnel, 64 declined).
        code: u8,
        /// Flags: F (0x8000) and reserved bits.
        flags: u16,
        /// Keepalive interval in seconds.
        keepalive: u16,
    },
    /// GRE Key (48, RFC 6245 section 3, Figure 1): type, sub-type ([`GRE_KEY_SUBTYPE`]), 2-byte
    /// length (4), the 32-bit Key Identifier the sender wants in the GRE Key field (RFC 2890) of
    /// the packets tunnelled to it; 8 octets.
    GreKey {
        /// The Sub-Type (0, [`GRE_KEY_SUBTYPE`], the only one assigned; kept for exact round
        /// trips).
        subtype: u8,
        /// The GRE key identifier.
        key: u32,
    },
    /// The 3GPP2 GRE Key CVSE (X.S0011-003): a Critical Vendor/Organization Specific Extension
    /// (38, RFC 3115) with Vendor/Org ID [`VENDOR_3GPP2`], CVSE type [`CVSE_3GPP2_GRE_KEY`] and
    /// a 4-octet value, the GRE key: type, reserved, length 10, vendor, CVSE type, key. A CVSE
    /// with that vendor and type but another length stays [`Extension::Cvse`].
    GreKeyCvse {
        /// The CVSE's reserved octet (kept for exact round trips).
        reserved: u8,
        /// The GRE key identifier.
        key: u32,
    },
    /// Proxy Mobile IPv4 Non-skippable Extension (47): type, subtype, 2-byte length, data.
    PmipNonSkippable {
        /// Subtype.
        subtype: u8,
        /// The data after the length.
        data: Cow<'a, [u8]>,
    },
    /// A short-format extension this codec does not model: type, length, data. Not for types the
    /// codec models (they parse into their own variant).
    Other {
        /// The type.
        ext_type: ExtensionType,
        /// The data after the length.
        data: Cow<'a, [u8]>,
    },
}

fn cut(v: &[u8], max: usize) -> &[u8] {
    v.get(..max).unwrap_or(v)
}

fn own(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

impl<'a> Extension<'a> {
    /// The extension type.
    pub fn ext_type(&self) -> ExtensionType {
        match self {
            Extension::Auth { ext_type, .. } | Extension::Other { ext_type, .. } => *ext_type,
            Extension::GeneralizedAuth { .. } => ExtensionType::GENERALIZED_AUTH,
            Extension::Nai(_) => ExtensionType::MN_NAI,
            Extension::RevocationSupport { .. } => ExtensionType::REVOCATION_SUPPORT,
            Extension::DynamicHa { .. } => ExtensionType::DYNAMIC_HA,
            Extension::Cvse { .. } | Extension::GreKeyCvse { .. } => ExtensionType::CVSE,
            Extension::Nvse { .. } => ExtensionType::NVSE,
            Extension::UdpTunnelRequest { .. } => ExtensionType::UDP_TUNNEL_REQUEST,
            Extension::UdpTunnelReply { .. } => ExtensionType::UDP_TUNNEL_REPLY,
            Extension::PmipNonSkippable { .. } => ExtensionType::PMIPV4_NON_SKIPPABLE,
            Extension::GreKey { .. } => ExtensionType::GRE_KEY,
        }
    }

    /// A copy that owns its opaque values.
    pub fn into_owned(self) -> Extension<'static> {
        match self {
            Extension::Auth {
                ext_type,
                spi,
                authenticator,
            } => Extension::Auth {
                ext_type,
                spi,
                authenticator: own(authenticator),
            },
            Extension::GeneralizedAuth {
                subtype,
                spi,
                authenticator,
            } => Extension::GeneralizedAuth {
                subtype,
                spi,
                authenticator: own(authenticator),
            },
            Extension::Nai(n) => Extension::Nai(own(n)),
            Extension::RevocationSupport { flags, timestamp } => {
                Extension::RevocationSupport { flags, timestamp }
            }
            Extension::DynamicHa {
                subtype,
                home_agent,
            } => Extension::DynamicHa {
                subtype,
                home_agent,
            },
            Extension::Cvse {
                reserved,
                vendor_id,
                vendor_type,
                value,
            } => Extension::Cvse {
                reserved,
                vendor_id,
                vendor_type,
                value: own(value),
            },
            Extension::Nvse {
                reserved,
                vendor_id,
                vendor_type,
                value,
            } => Extension::Nvse {
                reserved,
                vendor_id,
                vendor_type,
                value: own(value),
            },
            Extension::UdpTunnelRequest {
                subtype,
                reserved1,
                flags,
                encapsulation,
                reserved2,
            } => Extension::UdpTunnelRequest {
                subtype,
                reserved1,
                flags,
                encapsulation,
                reserved2,
            },
            Extension::UdpTunnelReply {
                subtype,
                code,
                flags,
                keepalive,
            } => Extension::UdpTunnelReply {
                subtype,
                code,
                flags,
                keepalive,
            },
            Extension::PmipNonSkippable { subtype, data } => Extension::PmipNonSkippable {
                subtype,
                data: own(data),
            },
            Extension::GreKey { subtype, key } => Extension::GreKey { subtype, key },
            Extension::GreKeyCvse { reserved, key } => Extension::GreKeyCvse { reserved, key },
            Extension::Other { ext_type, data } => Extension::Other {
                ext_type,
                data: own(data),
            },
        }
    }

    /// SPI and authenticator of an authentication extension (32, 33, 34, 36).
    pub fn spi_and_authenticator(&self) -> Option<(u32, &[u8])> {
        match self {
            Extension::Auth {
                spi, authenticator, ..
            }
            | Extension::GeneralizedAuth {
                spi, authenticator, ..
            } => Some((*spi, &authenticator[..])),
            _ => None,
        }
    }

    /// Bytes of this extension an authenticator covers (type, length(s), SPI), for authentication
    /// extensions.
    pub(crate) fn auth_header_len(&self) -> Option<usize> {
        match self {
            Extension::Auth { .. } => Some(6),
            Extension::GeneralizedAuth { .. } => Some(8),
            _ => None,
        }
    }

    /// Reports a value too long for its length field (emit would cut it).
    pub fn check(&self) -> Result<(), WireError> {
        let (len, max, field) = match self {
            Extension::Auth { authenticator, .. } => {
                (authenticator.len(), 251, Field::Authenticator)
            }
            Extension::GeneralizedAuth { authenticator, .. } => {
                (authenticator.len(), 65531, Field::Authenticator)
            }
            Extension::Nai(n) => (n.len(), 255, Field::Nai),
            Extension::Cvse { value, .. } => (value.len(), 65529, Field::CvseValue),
            Extension::Nvse { value, .. } => (value.len(), 247, Field::NvseValue),
            Extension::PmipNonSkippable { data, .. } | Extension::Other { data, .. } => (
                data.len(),
                if self.ext_type().is_long_format() {
                    65535
                } else {
                    255
                },
                Field::Data,
            ),
            _ => (0, 0, Field::Data),
        };
        if len > max {
            Err(WireError::BadLength {
                offset: 0,
                field,
                declared: len,
            })
        } else {
            Ok(())
        }
    }

    /// Encoded length in bytes (values cut as [`Extension::check`] describes).
    pub fn encoded_len(&self) -> usize {
        match self {
            Extension::Auth { authenticator, .. } => 6 + authenticator.len().min(251),
            Extension::GeneralizedAuth { authenticator, .. } => 8 + authenticator.len().min(65531),
            Extension::Nai(n) => 2 + n.len().min(255),
            Extension::RevocationSupport { .. } => 8,
            Extension::DynamicHa { .. } => 7,
            Extension::Cvse { value, .. } => 10 + value.len().min(65529),
            Extension::GreKeyCvse { .. } => 14,
            Extension::Nvse { value, .. } => 10 + value.len().min(247),
            Extension::UdpTunnelRequest { .. }
            | Extension::UdpTunnelReply { .. }
            | Extension::GreKey { .. } => 8,
            Extension::PmipNonSkippable { data, .. } => 4 + data.len().min(65535),
            Extension::Other { data, .. } => 2 + data.len().min(255),
        }
    }

    /// Writes the extension.
    pub fn emit(&self, out: &mut impl BufMut) {
        match self {
            Extension::Auth {
                ext_type,
                spi,
                authenticator,
            } => {
                let a = cut(authenticator, 251);
                out.put_u8(ext_type.0);
                out.put_u8((4 + a.len()) as u8);
                out.put_u32(*spi);
                out.put_slice(a);
            }
            Extension::GeneralizedAuth {
                subtype,
                spi,
                authenticator,
            } => {
                let a = cut(authenticator, 65531);
                out.put_u8(ExtensionType::GENERALIZED_AUTH.0);
                out.put_u8(*subtype);
                out.put_u16((4 + a.len()) as u16);
                out.put_u32(*spi);
                out.put_slice(a);
            }
            Extension::Nai(n) => {
                let n = cut(n, 255);
                out.put_u8(ExtensionType::MN_NAI.0);
                out.put_u8(n.len() as u8);
                out.put_slice(n);
            }
            Extension::RevocationSupport { flags, timestamp } => {
                out.put_u8(ExtensionType::REVOCATION_SUPPORT.0);
                out.put_u8(6);
                out.put_u16(*flags);
                out.put_u32(*timestamp);
            }
            Extension::DynamicHa {
                subtype,
                home_agent,
            } => {
                out.put_u8(ExtensionType::DYNAMIC_HA.0);
                out.put_u8(5);
                out.put_u8(*subtype);
                out.put_slice(&home_agent.octets());
            }
            Extension::Cvse {
                reserved,
                vendor_id,
                vendor_type,
                value,
            } => {
                let v = cut(value, 65529);
                out.put_u8(ExtensionType::CVSE.0);
                out.put_u8(*reserved);
                out.put_u16((6 + v.len()) as u16);
                out.put_u32(*vendor_id);
                out.put_u16(*vendor_type);
                out.put_slice(v);
            }
            Extension::Nvse {
                reserved,
                vendor_id,
                vendor_type,
                value,
            } => {
                let v = cut(value, 247);
                out.put_u8(ExtensionType::NVSE.0);
                out.put_u8((8 + v.len()) as u8);
                out.put_u16(*reserved);
                out.put_u32(*vendor_id);
                out.put_u16(*vendor_type);
                out.put_slice(v);
            }
            Extension::UdpTunnelRequest {
                subtype,
                reserved1,
                flags,
                encapsulation,
                reserved2,
            } => {
                out.put_u8(ExtensionType::UDP_TUNNEL_REQUEST.0);
                out.put_u8(6);
                out.put_u8(*subtype);
                out.put_u8(*reserved1);
                out.put_u8(*flags);
                out.put_u8(*encapsulation);
                out.put_u16(*reserved2);
            }
            Extension::UdpTunnelReply {
                subtype,
                code,
                flags,
                keepalive,
            } => {
                out.put_u8(ExtensionType::UDP_TUNNEL_REPLY.0);
                out.put_u8(6);
                out.put_u8(*subtype);
                out.put_u8(*code);
                out.put_u16(*flags);
                out.put_u16(*keepalive);
            }
            Extension::GreKey { subtype, key } => {
                out.put_u8(ExtensionType::GRE_KEY.0);
                out.put_u8(*subtype);
                out.put_u16(4);
                out.put_u32(*key);
            }
            Extension::GreKeyCvse { reserved, key } => {
                out.put_u8(ExtensionType::CVSE.0);
                out.put_u8(*reserved);
                out.put_u16(10);
                out.put_u32(VENDOR_3GPP2);
                out.put_u16(CVSE_3GPP2_GRE_KEY);
                out.put_u32(*key);
            }
            Extension::PmipNonSkippable { subtype, data } => {
                let d = cut(data, 65535);
                out.put_u8(ExtensionType::PMIPV4_NON_SKIPPABLE.0);
                out.put_u8(*subtype);
                out.put_u16(d.len() as u16);
                out.put_slice(d);
            }
            Extension::Other { ext_type, data } => {
                let d = cut(data, 255);
                out.put_u8(ext_type.0);
                out.put_u8(d.len() as u8);
                out.put_slice(d);
            }
        }
    }

    /// Parses one extension at the reader's position.
    pub(crate) fn parse(r: &mut Reader<'a>) -> Result<Extension<'a>, WireError> {
        // The common case, a whole authentication extension (RFC 5944 section 3.5.2: type,
        // length, SPI, authenticator), read straight from the octets: what the general path
        // below returns for it. Anything else (or a short one) takes that path.
        if let [t, len, rest @ ..] = r.rest()
            && matches!(
                ExtensionType(*t),
                ExtensionType::MN_HA_AUTH | ExtensionType::MN_FA_AUTH | ExtensionType::FA_HA_AUTH
            )
            && let Some((spi, authenticator)) = rest
                .get(..usize::from(*len))
                .and_then(|body| body.split_first_chunk::<4>())
        {
            let ext_type = ExtensionType(*t);
            let spi = u32::from_be_bytes(*spi);
            r.bytes(2 + usize::from(*len), Field::ExtensionData)?;
            return Ok(Extension::Auth {
                ext_type,
                spi,
                authenticator: Cow::Borrowed(authenticator),
            });
        }
        let t = ExtensionType(r.u8(Field::ExtensionType)?);
        if t.is_long_format() {
            let second = r.u8(if t == ExtensionType::CVSE {
                Field::CvseReserved
            } else {
                Field::ExtensionSubtype
            })?;
            let len_at = r.offset();
            let len = usize::from(r.u16(Field::ExtensionLength)?);
            let mut body = Reader::new(r.bytes(len, Field::ExtensionData)?);
            let bad = |field| WireError::BadLength {
                offset: len_at,
                field,
                declared: len,
            };
            return Ok(match t {
                ExtensionType::GENERALIZED_AUTH => {
                    if len < 4 {
                        return Err(bad(Field::GeneralizedAuthLength));
                    }
                    let spi = body.u32(Field::Spi)?;
                    Extension::GeneralizedAuth {
                        subtype: second,
                        spi,
                        authenticator: Cow::Borrowed(body.bytes(len - 4, Field::Authenticator)?),
                    }
                }
                ExtensionType::CVSE => {
                    if len < 6 {
                        return Err(bad(Field::CvseLength));
                    }
                    let vendor_id = body.u32(Field::CvseVendorId)?;
                    let vendor_type = body.u16(Field::CvseVendorType)?;
                    if (vendor_id, vendor_type, len) == (VENDOR_3GPP2, CVSE_3GPP2_GRE_KEY, 10) {
                        return Ok(Extension::GreKeyCvse {
                            reserved: second,
                            key: body.u32(Field::GreKey)?,
                        });
                    }
                    Extension::Cvse {
                        reserved: second,
                        vendor_id,
                        vendor_type,
                        value: Cow::Borrowed(body.bytes(len - 6, Field::CvseValue)?),
                    }
                }
                ExtensionType::GRE_KEY => {
                    if len != 4 {
                        return Err(bad(Field::GreKeyLength));
                    }
                    Extension::GreKey {
                        subtype: second,
                        key: body.u32(Field::GreKey)?,
                    }
                }
                _ => Extension::PmipNonSkippable {
                    subtype: second,
                    data: Cow::Borrowed(body.bytes(len, Field::ExtensionData)?),
                },
            });
        }
        let len_at = r.offset();
        let len = usize::from(r.u8(Field::ExtensionLength)?);
        let data = r.bytes(len, Field::ExtensionData)?;
        let mut body = Reader::new(data);
        let bad = |field| WireError::BadLength {
            offset: len_at,
            field,
            declared: len,
        };
        Ok(match t {
            ExtensionType::MN_HA_AUTH | ExtensionType::MN_FA_AUTH | ExtensionType::FA_HA_AUTH => {
                if len < 4 {
                    return Err(bad(Field::AuthenticationExtensionLength));
                }
                let spi = body.u32(Field::Spi)?;
                Extension::Auth {
                    ext_type: t,
                    spi,
                    authenticator: Cow::Borrowed(body.bytes(len - 4, Field::Authenticator)?),
                }
            }
            ExtensionType::MN_NAI => Extension::Nai(Cow::Borrowed(data)),
            ExtensionType::REVOCATION_SUPPORT => {
                if len != 6 {
                    return Err(bad(Field::RevocationSupportLength));
                }
                Extension::RevocationSupport {
                    flags: body.u16(Field::RevocationFlags)?,
                    timestamp: body.u32(Field::RevocationTimestamp)?,
                }
            }
            ExtensionType::DYNAMIC_HA => {
                if len != 5 {
                    return Err(bad(Field::DynamicHaLength));
                }
                Extension::DynamicHa {
                    subtype: body.u8(Field::DynamicHaSubtype)?,
                    home_agent: body.addr(Field::DynamicHaAddress)?,
                }
            }
            ExtensionType::NVSE => {
                if len < 8 {
                    return Err(bad(Field::NvseLength));
                }
                Extension::Nvse {
                    reserved: body.u16(Field::NvseReserved)?,
                    vendor_id: body.u32(Field::NvseVendorId)?,
                    vendor_type: body.u16(Field::NvseVendorType)?,
                    value: Cow::Borrowed(body.bytes(len - 8, Field::NvseValue)?),
                }
            }
            ExtensionType::UDP_TUNNEL_REQUEST => {
                if len != 6 {
                    return Err(bad(Field::UdpTunnelRequestLength));
                }
                Extension::UdpTunnelRequest {
                    subtype: body.u8(Field::UdpTunnelRequestSubtype)?,
                    reserved1: body.u8(Field::UdpTunnelRequestReserved)?,
                    flags: body.u8(Field::UdpTunnelRequestFlags)?,
                    encapsulation: body.u8(Field::UdpTunnelRequestEncapsulation)?,
                    reserved2: body.u16(Field::UdpTunnelRequestReserved)?,
                }
            }
            ExtensionType::UDP_TUNNEL_REPLY => {
                if len != 6 {
                    return Err(bad(Field::UdpTunnelReplyLength));
                }
                Extension::UdpTunnelReply {
                    subtype: body.u8(Field::UdpTunnelReplySubtype)?,
                    code: body.u8(Field::UdpTunnelReplyCode)?,
                    flags: body.u16(Field::UdpTunnelReplyFlags)?,
                    keepalive: body.u16(Field::UdpTunnelReplyKeepalive)?,
                }
            }
            _ => Extension::Other {
                ext_type: t,
                data: Cow::Borrowed(data),
            },
        })
    }
}
