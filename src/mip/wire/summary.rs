//! The one-pass summary of a registration message (RFC 5944 3.3, 3.4, 3.5): the header, the
//! extensions a Home Agent needs and where each authenticator starts.

use super::*;

/// An authentication extension found by [`Summary::parse`]: its SPI, its authenticator (borrowed
/// from the message) and how many leading bytes of the message it protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRef<'a> {
    /// Security Parameter Index.
    pub spi: u32,
    /// The authenticator.
    pub authenticator: &'a [u8],
    /// Leading bytes of the message the authenticator covers.
    pub covered_len: usize,
}

impl AuthRef<'_> {
    /// Verifies the authenticator over `raw` (the message it was found in) with the prepared key
    /// of the association with SPI `spi`, in constant time; the same answers as
    /// [`Message::verify_prepared`].
    pub fn verify_prepared(
        &self,
        raw: &[u8],
        spi: u32,
        key: &PreparedKey,
    ) -> Result<(), AuthError> {
        if self.spi != spi {
            return Err(AuthError::UnknownSpi { spi: self.spi });
        }
        let covered = raw.get(..self.covered_len).ok_or(AuthError::Truncated {
            needed: self.covered_len,
            got: raw.len(),
        })?;
        if key.verify(covered, self.authenticator) {
            Ok(())
        } else {
            Err(AuthError::Mismatch { spi })
        }
    }
}

/// A UDP Tunnel Request (RFC 3519 section 3.1) as a Home Agent acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpTunnelAsk {
    /// Its flags ([`super::UDP_TUNNEL_F`]: forced).
    pub flags: u8,
    /// The encapsulation inside UDP: 4 IP-in-IP, 47 GRE, 55 minimal (RFC 3519 section 3.1).
    pub encapsulation: u8,
}

/// What a request asks of its tunnel beyond the flag octet: the first UDP Tunnel Request
/// (RFC 3519) and the first GRE key, from a GRE Key extension (RFC 6245) or a 3GPP2 GRE Key CVSE
/// (X.S0011-003), each only when an authenticator the Home Agent verified covers it
/// ([`Summary::tunnel_ask`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TunnelAsk {
    /// The UDP Tunnel Request.
    pub udp: Option<UdpTunnelAsk>,
    /// The GRE key the sender wants in the packets tunnelled to it.
    pub gre_key: Option<u32>,
    /// The GRE key came in the 3GPP2 GRE Key CVSE ([`Extension::GreKeyCvse`]), not the RFC 6245
    /// extension: the reply echoes it in the same CVSE.
    pub gre_key_cvse: bool,
    /// One of them follows the MN-HA extension: the foreign agent added it (and the reply's
    /// tunnel extensions go after the MN-HA extension too).
    pub from_fa: bool,
}

/// What a Home Agent reads of a registration message, gathered in one pass over the extensions
/// without allocating (where [`Message::parse`] collects them into a vector). It accepts and
/// refuses exactly what [`Message::parse`] does, and its fields are those of the first extension of
/// each kind, as [`Message::nai`], [`Message::unknown_non_skippable`] and [`Message::position`]
/// find them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary<'a> {
    /// The fixed part.
    pub header: Header,
    /// The Mobile Node NAI (RFC 2794), if present.
    pub nai: Option<&'a [u8]>,
    /// The first non-skippable extension this codec does not model (134 for a request).
    pub unknown_non_skippable: Option<ExtensionType>,
    /// The first Mobile-Home authentication extension.
    pub mn_ha: Option<AuthRef<'a>>,
    /// The first Foreign-Home authentication extension.
    pub fa_ha: Option<AuthRef<'a>>,
    /// How many authorization-enabling extensions the message carries (RFC 5944 section 1.9):
    /// Mobile-Home authentication (32) and MN-AAA generalized authentication (36, subtype 1,
    /// RFC 3012 section 3), saturating at 255. A home agent accepts exactly one (RFC 5944 section
    /// 3.8.2.1; 131 otherwise).
    pub authorizing: u8,
    /// Offset just past the first NAI extension (0 without one): whether the first MN-HA
    /// authenticator covers it (see [`Summary::covered_nai`]).
    pub nai_end: usize,
    /// How many Foreign-Home authentication extensions (34) the message carries, saturating at
    /// 255. When the home agent shares a mobility security association with the relaying foreign
    /// agent it accepts exactly one, valid (RFC 5944 section 3.8.2.1; 132 otherwise).
    pub fa_ha_count: u8,
    /// The first UDP Tunnel Request (RFC 3519) and its offset.
    pub udp_tunnel: Option<(UdpTunnelAsk, usize)>,
    /// The first GRE key (RFC 6245 GRE Key extension or 3GPP2 GRE Key CVSE) and its offset.
    pub gre_key: Option<(u32, usize)>,
    /// That key came in the 3GPP2 GRE Key CVSE.
    pub gre_key_cvse: bool,
    /// The offset of the first Critical Vendor/Organization Specific Extension (RFC 3115, type
    /// 38) this codec does not interpret (any but the 3GPP2 GRE Key CVSE): a home agent refuses
    /// the request 140 or 141 when an authenticator it verified covers it (RFC 3115 section 5).
    pub unknown_cvse: Option<usize>,
}

impl<'a> Summary<'a> {
    /// Parses one complete UDP payload. Never panics.
    pub fn parse(data: &'a [u8]) -> Result<Summary<'a>, WireError> {
        let (header, start) = Header::parse(data)?;
        let mut s = Summary::of_header(header);
        s.read_extensions(data, start)?;
        Ok(s)
    }

    /// [`Summary::parse`] written straight into `out` (`None` when the message does not parse):
    /// a caller that keeps the summary in place (an array of a batch's summaries) has it built
    /// there, not built aside and copied in (some 180 octets, twice).
    pub(crate) fn parse_into(data: &'a [u8], out: &mut Option<Summary<'a>>) {
        *out = None;
        let Ok((header, start)) = Header::parse(data) else {
            return;
        };
        let s = out.insert(Summary::of_header(header));
        // The common message, the fixed part and one Mobile-Home authentication extension
        // (type, length, SPI, authenticator: RFC 5944 sections 3.3, 3.4, 3.5.2) ending the
        // datagram, summarised straight from the octets: what the loop below makes of it.
        // Anything else (or a short extension) takes the loop.
        if let Some([t, len, body @ ..]) = data.get(start..)
            && ExtensionType(*t) == ExtensionType::MN_HA_AUTH
            && body.len() == usize::from(*len)
            && let Some((spi, authenticator)) = body.split_first_chunk::<4>()
        {
            s.authorizing = 1;
            s.mn_ha = Some(AuthRef {
                spi: u32::from_be_bytes(*spi),
                authenticator,
                covered_len: start + 6,
            });
            return;
        }
        if s.read_extensions(data, start).is_err() {
            *out = None;
        }
    }

    /// A summary of a message with this fixed part and no extension yet.
    #[inline(always)]
    fn of_header(header: Header) -> Summary<'a> {
        Summary {
            header,
            nai: None,
            unknown_non_skippable: None,
            mn_ha: None,
            fa_ha: None,
            authorizing: 0,
            nai_end: 0,
            fa_ha_count: 0,
            udp_tunnel: None,
            gre_key: None,
            gre_key_cvse: false,
            unknown_cvse: None,
        }
    }

    /// Reads the extensions after the fixed part (`start` octets) of `data` into `self`.
    #[inline(always)]
    fn read_extensions(&mut self, data: &'a [u8], start: usize) -> Result<(), WireError> {
        let s = self;
        let mut r = Reader::new(data);
        r.bytes(start, Field::FixedPart)?;
        while !r.is_empty() {
            let at = r.offset();
            match Extension::parse(&mut r)? {
                Extension::Nai(Cow::Borrowed(n)) if s.nai.is_none() => {
                    s.nai = Some(n);
                    s.nai_end = r.offset();
                }
                Extension::UdpTunnelRequest {
                    flags,
                    encapsulation,
                    ..
                } if s.udp_tunnel.is_none() => {
                    let ask = UdpTunnelAsk {
                        flags,
                        encapsulation,
                    };
                    s.udp_tunnel = Some((ask, at));
                }
                Extension::GreKey { key, .. } if s.gre_key.is_none() => {
                    s.gre_key = Some((key, at));
                }
                Extension::GreKeyCvse { key, .. } if s.gre_key.is_none() => {
                    s.gre_key = Some((key, at));
                    s.gre_key_cvse = true;
                }
                Extension::Cvse { .. } if s.unknown_cvse.is_none() => {
                    s.unknown_cvse = Some(at);
                }
                Extension::GeneralizedAuth { subtype, .. } if subtype == GEN_AUTH_MN_AAA => {
                    s.authorizing = s.authorizing.saturating_add(1);
                }
                Extension::Other { ext_type, .. }
                    if !ext_type.is_skippable() && s.unknown_non_skippable.is_none() =>
                {
                    s.unknown_non_skippable = Some(ext_type);
                }
                Extension::Auth {
                    ext_type,
                    spi,
                    authenticator: Cow::Borrowed(authenticator),
                } => {
                    if ext_type == ExtensionType::MN_HA_AUTH {
                        s.authorizing = s.authorizing.saturating_add(1);
                    } else if ext_type == ExtensionType::FA_HA_AUTH {
                        s.fa_ha_count = s.fa_ha_count.saturating_add(1);
                    }
                    let slot = match ext_type {
                        ExtensionType::MN_HA_AUTH => &mut s.mn_ha,
                        ExtensionType::FA_HA_AUTH => &mut s.fa_ha,
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = Some(AuthRef {
                            spi,
                            authenticator,
                            covered_len: at + 6,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The tunnel extensions a home agent may act on: those before the first MN-HA extension (the
    /// mobile node's, RFC 5944 section 3.5.1), and, when `fa_ha_verified` (the home agent shares
    /// an association with the relaying foreign agent and checked its FA-HA authenticator),
    /// those before the first FA-HA extension (a foreign agent adds the UDP Tunnel Request or
    /// GRE Key extension after the mobile node's: RFC 3519 section 3.1, RFC 6245 section 3).
    /// An extension nothing verified covers is ignored.
    pub fn tunnel_ask(&self, fa_ha_verified: bool) -> TunnelAsk {
        let start = |a: Option<AuthRef<'_>>| a.map_or(0, |a| a.covered_len.saturating_sub(6));
        let mut limit = start(self.mn_ha);
        if fa_ha_verified {
            limit = limit.max(start(self.fa_ha));
        }
        let mn = start(self.mn_ha);
        let udp = self.udp_tunnel.filter(|(_, at)| *at < limit);
        let gre = self.gre_key.filter(|(_, at)| *at < limit);
        TunnelAsk {
            udp: udp.map(|(u, _)| u),
            gre_key: gre.map(|(k, _)| k),
            gre_key_cvse: gre.is_some() && self.gre_key_cvse,
            from_fa: udp.is_some_and(|(_, at)| at > mn) || gre.is_some_and(|(_, at)| at > mn),
        }
    }

    /// The NAI a home agent may act on: the first NAI extension when the first Mobile-Home
    /// authenticator covers it, that is when it comes before it (RFC 5944 section 3.5.1: the
    /// authenticator protects what precedes it; section 3.6.1.3 and RFC 2794 section 2: the
    /// mobile node places the NAI before its authorization-enabling extension). An NAI after the
    /// MN-HA extension is not authenticated and is ignored (`None`). Without an MN-HA extension,
    /// the first NAI (nothing is authenticated then, and the request is refused 131).
    pub fn covered_nai(&self) -> Option<&'a [u8]> {
        match self.mn_ha {
            Some(a) if self.nai_end > a.covered_len.saturating_sub(6) => None,
            _ => self.nai,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `parse_into` leaves what `parse` returns, `None` for what it refuses.
    fn same(data: &[u8]) -> Result<(), TestCaseError> {
        // A stale summary in the place first: it must not survive a refusal.
        let mut stale = [0; 24];
        stale[0] = MessageType::REGISTRATION_REQUEST.0;
        let mut out = Summary::parse(&stale).ok();
        prop_assert!(out.is_some());
        Summary::parse_into(data, &mut out);
        prop_assert_eq!(out, Summary::parse(data).ok());
        Ok(())
    }

    proptest! {
        /// The in-place parse ([`Summary::parse_into`], the batch's) accepts and refuses what
        /// [`Summary::parse`] does and summarises the same way: arbitrary octets.
        #[test]
        fn parse_into_equals_parse_on_any_octets(
            data in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            same(&data)?;
        }
    }

    /// A fixed part (request or reply) followed by a Mobile-Home authentication extension
    /// whose length octet is `len` and whose body is `body`, then `tail`.
    fn with_mn_ha(request: bool, fixed: &[u8], len: u8, body: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut b = fixed.to_vec();
        b[0] = if request {
            MessageType::REGISTRATION_REQUEST.0
        } else {
            MessageType::REGISTRATION_REPLY.0
        };
        b.truncate(if request {
            REQUEST_FIXED_LEN
        } else {
            REPLY_FIXED_LEN
        });
        b.push(ExtensionType::MN_HA_AUTH.0);
        b.push(len);
        b.extend_from_slice(body);
        b.extend_from_slice(tail);
        b
    }

    proptest! {
        /// The in-place parse's direct reading of a fixed part and one Mobile-Home
        /// authentication extension summarises as [`Summary::parse`] does: any length octet
        /// (short, exact, long), any body, anything after it, whole and truncated.
        #[test]
        fn parse_into_equals_parse_after_one_mn_ha_extension(
            request in any::<bool>(),
            fixed in proptest::collection::vec(any::<u8>(), 24),
            len in prop_oneof![Just(20u8), 0u8..30, any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..40),
            tail in prop_oneof![
                Just(Vec::new()),
                proptest::collection::vec(any::<u8>(), 0..24),
            ],
            exact in any::<bool>(),
            cut in any::<prop::sample::Index>(),
        ) {
            // Often a length octet that matches the body exactly (the direct path's case).
            let len = if exact { body.len() as u8 } else { len };
            let b = with_mn_ha(request, &fixed, len, &body, &tail);
            same(&b)?;
            same(&b[..cut.index(b.len() + 1)])?;
        }
    }

    /// RFC 5944 sections 3.3, 3.5.1: a request's MN-HA authenticator covers the 24-octet fixed
    /// part and the extension's Type, Length and SPI (30 octets); a reply's, its 20-octet fixed
    /// part and the same 6 (26). The in-place parse says so, with the SPI and the 16 octets of
    /// the authenticator, exactly one authorization-enabling extension and nothing else.
    #[test]
    fn one_mn_ha_extension_is_summarised_in_place() {
        let mut body = vec![0, 0, 0x01, 0x02];
        body.extend(1..=16u8);
        for (request, covered) in [(true, 30), (false, 26)] {
            let b = with_mn_ha(request, &[7; 24], 20, &body, &[]);
            let mut out = None;
            Summary::parse_into(&b, &mut out);
            let s = out.unwrap();
            let x = s.mn_ha.unwrap();
            assert_eq!(x.spi, 0x0102);
            assert_eq!(x.covered_len, covered);
            assert_eq!(x.authenticator, &body[4..]);
            assert_eq!(s.authorizing, 1);
            assert_eq!((s.fa_ha, s.fa_ha_count, s.nai), (None, 0, None));
            assert_eq!(s.header, Header::parse(&b).unwrap().0);
            assert_eq!(Some(s), Summary::parse(&b).ok());
        }
    }

    #[cfg(feature = "proptest")]
    proptest! {
        /// The same on well-formed messages with any extensions (RFC 5944 3.3, 3.4), whole,
        /// truncated, and with one octet changed.
        #[test]
        fn parse_into_equals_parse_on_messages(
            m in crate::strategies::mip::message(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            x in 1u8..,
        ) {
            let b = m.to_vec();
            same(&b)?;
            same(&b[..cut.index(b.len() + 1)])?;
            let mut c = b.clone();
            let i = flip.index(c.len());
            c[i] ^= x;
            same(&c)?;
        }
    }
}
