//! The checks before any state (RFC 5944 section 3.8.2.1): a request's extensions, its home
//! agent address, the mobile node's authentication (with a configured key or one from AAA,
//! `aaa.rs`) and the foreign agent's.

use super::register::Asked;
use super::*;

/// An admitted request: the mobile node, its security association (`None`: keys come from AAA
/// and this HA holds none for the mobile node and SPI), whether the request names this HA's own
/// address, the MN-HA extension's SPI, and the slot of its binding when admission looked it up
/// ([`Asked::found`]).
pub(super) type Admitted = (MnId, Option<MnSa>, bool, u32, Option<Option<u32>>);

impl HomeAgent {
    /// A request whose fixed part parses but whose extensions do not: reply 134 (RFC 5944
    /// section 3.8.3.2); anything else is the parse error itself.
    pub(super) fn refuse_unparsable(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        forwarded_by: Option<NodeId>,
        e: WireError,
    ) -> InputError {
        let q = match Header::parse(data) {
            Ok((Header::Request(q), _)) => q,
            Ok(_) => return e.into(),
            Err(h) => return h.into(),
        };
        if forwarded_by.is_none() {
            self.stats.requests += 1;
        }
        let a = Asked {
            now,
            from,
            q: &q,
            relay: forwarded_by,
            nai: None,
            assigned: None,
            revocation: None,
            tunnel: crate::mip::wire::TunnelAsk::default(),
            found: None,
        };
        self.refuse(&a, ReplyCode::POORLY_FORMED_REQUEST, None)
    }

    /// The checks before any state (RFC 5944 section 3.8.2.1): extensions, the home agent
    /// address (136), the mobile node's authentication (131) and the foreign agent's (132).
    /// Returns the mobile node, its security association (`None`: keys come from AAA and this
    /// HA holds none for the mobile node and SPI, `aaa.rs`), whether the request names this HA's
    /// own address, and the MN-HA extension's SPI.
    pub(super) fn admit(
        &mut self,
        a: &Asked<'_>,
        m: &Summary<'_>,
        data: &[u8],
    ) -> Result<Admitted, InputError> {
        let q = a.q;
        if m.unknown_non_skippable.is_some() {
            let sa = self.early_sa(a, m, data);
            return Err(self.refuse(a, ReplyCode::POORLY_FORMED_REQUEST, sa.as_ref()));
        }
        let own_ip = self.own_ip;
        let to_me = Some(q.home_agent) == own_ip;
        // A forwarded request may name the first HA's own address.
        // (Looked up only for an address that is neither the virtual one nor this HA's own.)
        let member_ip =
            || a.relay.is_some() && self.members.values().any(|m| v4(m.addr) == q.home_agent);
        // RFC 4433 section 3: 0.0.0.0 or 255.255.255.255 asks for an HA to be assigned (a
        // forwarded one was admitted by its first HA under the cluster's policy).
        let dynamic = dynamic::is_all_zero_one(q.home_agent)
            && (self.dynamic_ha != DynamicHaPolicy::Off || a.relay.is_some());
        if q.home_agent != self.vip && !to_me && !dynamic && !member_ip() {
            let sa = self.early_sa(a, m, data);
            return Err(self.refuse(a, ReplyCode::UNKNOWN_HA_ADDRESS, sa.as_ref()));
        }
        let Some(mn) = MnId::of(q.home_address, a.nai) else {
            return Err(self.refuse(a, ReplyCode::POORLY_FORMED_REQUEST, None));
        };
        let spi = m.mn_ha.map_or(0, |x| x.spi);
        let configured = self.lookup_sa_at(q.home_address, a.nai);
        let hint = configured.and_then(|(_, hint)| hint);
        let sa_is_homes = hint.is_some();
        let sa = configured
            .map(|(sa, _)| sa.clone())
            .or_else(|| self.fresh_aaa_sa(a.now, q.home_address, a.nai, spi));
        let Some(sa) = sa else {
            if self.aaa.is_some() && m.authorizing == 1 && spi >= FIRST_USABLE_SPI {
                self.check_fa(a, m, data, None)?;
                return Ok((mn, None, to_me, spi, None));
            }
            return Err(self.refuse(a, ReplyCode::MN_AUTH_FAILED, None));
        };
        // RFC 5944 section 3.8.2.1: exactly one authorization-enabling extension, valid.
        let ok = m.authorizing == 1
            && m.mn_ha
                .is_some_and(|x| self.verify_auth(&x, data, sa.spi, &sa.key));
        if !ok {
            return Err(self.refuse(a, ReplyCode::MN_AUTH_FAILED, None));
        }
        // Every identity the request names, and the binding it would change, must be the
        // authenticated mobile node's: its key admitted the request, not another node's.
        let slot = self.find_binding(hint, q.home_address, a.nai);
        if !self.names_only(&sa, q.home_address, a.nai, slot, sa_is_homes) {
            return Err(self.refuse(a, ReplyCode::MN_AUTH_FAILED, None));
        }
        self.check_fa(a, m, data, Some(&sa))?;
        if let Some(code) = self.unknown_cvse(a, m) {
            return Err(self.refuse(a, code, Some(&sa)));
        }
        if unusable_care_of(q) {
            return Err(self.refuse(a, ReplyCode::POORLY_FORMED_REQUEST, Some(&sa)));
        }
        // Refusals above change no binding (a refusal only answers), so the slot stands.
        Ok((mn, Some(sa), to_me, spi, Some(slot)))
    }

    /// The configured association of the mobile node a request refused before its
    /// authentication names, when its one MN-HA authenticator verifies under it: the refusal
    /// then carries an MN-HA extension (RFC 5944 section 3.5.2: in every reply; the mobile node
    /// discards a reply without one, 3.6.2.1), as the 136 of a request sent to the home
    /// network's broadcast address must for the mobile node to learn this HA's address. `None`
    /// (an unauthenticated refusal, as before): no such key, or the authenticator does not
    /// verify.
    fn early_sa(&self, a: &Asked<'_>, m: &Summary<'_>, data: &[u8]) -> Option<MnSa> {
        let (sa, _) = self.lookup_sa_at(a.q.home_address, a.nai)?;
        let x = m.mn_ha.filter(|_| m.authorizing == 1)?;
        self.verify_auth(&x, data, sa.spi, &sa.key)
            .then(|| sa.clone())
    }

    /// RFC 3115 section 5: a CVSE the home agent cannot interpret makes it refuse the request,
    /// 140 when the mobile node sent it (before its MN-HA extension), 141 when the foreign agent
    /// did (after it, covered by an FA-HA authenticator this HA verified). A CVSE no verified
    /// authenticator covers decides nothing and is ignored, as the tunnel extensions are.
    fn unknown_cvse(&self, a: &Asked<'_>, m: &Summary<'_>) -> Option<ReplyCode> {
        let at = m.unknown_cvse?;
        let start =
            |x: Option<crate::mip::wire::AuthRef<'_>>| x.map(|x| x.covered_len.saturating_sub(6));
        if start(m.mn_ha).is_some_and(|mn| at < mn) {
            return Some(ReplyCode::HA_CVSE_FROM_MN);
        }
        let fa_verified = self.fa_sas.contains_key(&v4(a.from));
        (fa_verified && start(m.fa_ha).is_some_and(|fa| at < fa))
            .then_some(ReplyCode::HA_CVSE_FROM_FA)
    }

    /// A known foreign agent must authenticate itself with exactly one FA-HA extension, valid
    /// (RFC 5944 section 3.8.2.1 (c); 132): a second one would be an unchecked extension.
    fn check_fa(
        &mut self,
        a: &Asked<'_>,
        m: &Summary<'_>,
        data: &[u8],
        sa: Option<&MnSa>,
    ) -> Result<(), InputError> {
        if let Some(fa) = self.fa_sas.get(&v4(a.from)) {
            let fa_ok = m.fa_ha_count == 1
                && m.fa_ha
                    .is_some_and(|x| self.verify_auth(&x, data, fa.spi, &fa.key));
            if !fa_ok {
                return Err(self.refuse(a, ReplyCode::FA_AUTH_FAILED, sa));
            }
        }
        Ok(())
    }
}

/// A registration (non-zero Lifetime) whose care-of address no tunnel can end at: 0.0.0.0, a
/// broadcast or multicast address, or the home address itself (RFC 5944 section 3.3: the care-of
/// address is the tunnel's end; sections 3.6.1.2 and 3.8.3: the home address as care-of address
/// means deregistration, with Lifetime 0). Refused 134, poorly formed request, once the request
/// is authenticated (section 3.8.2.1 checks authentication first), the binding unchanged.
fn unusable_care_of(q: &crate::mip::wire::Request) -> bool {
    let c = q.care_of;
    q.lifetime != 0
        && (c.is_unspecified()
            || c.is_broadcast()
            || c.is_multicast()
            || (c == q.home_address && !q.home_address.is_unspecified()))
}
