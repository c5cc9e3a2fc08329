//! The per-call tunnel plan of a LAC: where a call may go, in which order.
//!
//! A [`TunnelPlan`] is what a RADIUS server returns for one user in an Access-Accept (RFC 2868
//! tunnel attributes), one [`PlanEndpoint`] per tag. The mapping is one to one:
//!
//! | RFC 2868 attribute (type)        | Here                                                |
//! |----------------------------------|-----------------------------------------------------|
//! | Tag (0x01-0x1F, in each attribute) | one [`PlanEndpoint`] (attributes with the same tag) |
//! | Tunnel-Type (64) = L2TP (3)      | implied: every endpoint is an L2TPv2 LNS            |
//! | Tunnel-Medium-Type (65): IPv4 (1), IPv6 (2) | the family of [`PlanEndpoint::server`]   |
//! | Tunnel-Server-Endpoint (67)      | [`PlanEndpoint::server`] (the LNS, UDP 1701)        |
//! | Tunnel-Client-Endpoint (66)      | [`PlanEndpoint::client`] (our address for the tunnel) |
//! | Tunnel-Preference (83)           | [`PlanEndpoint::preference`]: lower is tried first; endpoints with one value form a level |
//! | Tunnel-Password (69)             | [`PlanEndpoint::password`] (the tunnel secret, decrypted) |
//! | Tunnel-Assignment-Id (82)        | [`PlanEndpoint::assignment_id`]: same server and id share a tunnel, different ids get different tunnels |
//! | (vendor attributes, not RFC 2868) | [`PlanEndpoint::weight`], [`PlanEndpoint::max_sessions`] |
//!
//! [`TunnelPlan::from_tagged`] builds a plan from such attributes, typed ([`TaggedAttribute`]);
//! no RADIUS codec is needed.
//!
//! How a call walks its plan ([`super::Lac::open_call`]): levels are tried in order of
//! preference; within a level the LAC chooses among the endpoints not yet tried by this call, not
//! on the deny-list and below their session cap, by [`PlanPolicy`] (weighted at random, or the
//! least filled with a random tie-break; randomness from the LAC's seeded RNG). When an endpoint
//! fails the call before it is established, the call goes to the next choice; a redirect (the
//! vendor `RedirectTarget`, Result 2 / Error 9) is followed first, within the same step. An LNS
//! that timed out, sent StopCCN, answered CDN with a busy result (RFC 2661 4.4.2 CDN Result
//! 4, 5 or 8, or our Result 10 time-out), or failed tunnel authentication goes on the deny-list
//! for [`super::LacConfig::deny_time`], reported as [`crate::l2tp::Event::LnsDenied`] with its
//! [`DenyReason`]. When no endpoint is left, the call fails
//! ([`crate::l2tp::Event::SessionDown`]).
//!
//! Tunnel-Password: the tunnel to an endpoint with a password authenticates with it (RFC 2661
//! 5.1.1 challenge/response, both ways: the LAC always sends a Challenge on such a tunnel) and
//! hides AVPs with it (4.3), instead of [`crate::l2tp::Config::secret`]. An RFC 4951 recovery of
//! such a tunnel, the LNS's or ours, authenticates the recovery tunnel with that same password
//! (RFC 4951 3.2.1: "It MUST use the same secret that was used to authenticate the old tunnel");
//! a tunnel restored with [`crate::l2tp::Config::restore`] has no password of its own and uses
//! [`crate::l2tp::Config::secret`].

use crate::io::Rng;
use crate::l2tp::tunnel::Redacted;
use crate::l2tp::wire::{ResultCode, ResultCodeValue};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Preference levels a plan may have (the bound: LACs of the field take up to eight).
pub const MAX_PLAN_LEVELS: usize = 8;
/// Endpoints a plan may have: RFC 2868 tags 0x01 to 0x1F (31 groups).
pub const MAX_PLAN_ENDPOINTS: usize = 31;
/// Longest Tunnel-Password and Tunnel-Assignment-Id value, in octets (a RADIUS attribute carries
/// at most 253 octets, RFC 2865 5).
pub const MAX_PLAN_VALUE_LEN: usize = 253;

/// RFC 2868 3.1 Tunnel-Type value of L2TP.
pub const TUNNEL_TYPE_L2TP: u32 = 3;
/// RFC 2868 3.2 Tunnel-Medium-Type value of IPv4.
pub const TUNNEL_MEDIUM_IPV4: u32 = 1;
/// RFC 2868 3.2 Tunnel-Medium-Type value of IPv6.
pub const TUNNEL_MEDIUM_IPV6: u32 = 2;

/// One LNS of a plan: one RFC 2868 tag's attributes (module docs). `Debug` shows the
/// password's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct PlanEndpoint {
    /// The LNS (Tunnel-Server-Endpoint; port 1701 from RADIUS).
    pub server: SocketAddr,
    /// Our address for the tunnel (Tunnel-Client-Endpoint); `None`: the caller's default.
    pub client: Option<IpAddr>,
    /// Tunnel-Preference: lower values are tried first; equal values form one level.
    pub preference: u32,
    /// Relative weight within its level under [`PlanPolicy::Weighted`] (0: chosen only when every
    /// endpoint left in the level weighs 0).
    pub weight: u32,
    /// Session cap: at most this many of our calls at once on this endpoint's tunnel (server and
    /// assignment id), set-up ones included; `None`: no cap beyond the tunnel's
    /// [`crate::l2tp::Config::max_sessions_per_tunnel`].
    pub max_sessions: Option<u32>,
    /// Tunnel-Password: the tunnel secret with this LNS (RFC 2661 5.1.1 challenge/response and
    /// 4.3 hidden AVPs on the tunnel to it); `None`: [`crate::l2tp::Config::secret`]. A tunnel
    /// opened with a password sends a Challenge and requires the LNS's response; calls share a
    /// tunnel only when their passwords are equal. Any length up to [`MAX_PLAN_VALUE_LEN`]: RFC
    /// 2661 sets none for the tunnel secret (a shared password hashed with MD5, not an HMAC
    /// key), so no 128-bit minimum applies as it does to Mobile IP and cluster keys.
    pub password: Option<Vec<u8>>,
    /// Tunnel-Assignment-Id: calls to the same server with the same id share a tunnel; `None` is
    /// an id of its own (the tunnel calls without a plan use).
    pub assignment_id: Option<Vec<u8>>,
}

impl PlanEndpoint {
    /// The LNS `server`, preference 0, weight 1, no cap, password or assignment id.
    pub fn new(server: SocketAddr) -> Self {
        PlanEndpoint {
            server,
            client: None,
            preference: 0,
            weight: 1,
            max_sessions: None,
            password: None,
            assignment_id: None,
        }
    }

    /// This endpoint at preference `p`.
    #[must_use]
    pub fn preference(mut self, p: u32) -> Self {
        self.preference = p;
        self
    }

    /// This endpoint with weight `w`.
    #[must_use]
    pub fn weight(mut self, w: u32) -> Self {
        self.weight = w;
        self
    }

    /// This endpoint with a session cap of `n`.
    #[must_use]
    pub fn max_sessions(mut self, n: u32) -> Self {
        self.max_sessions = Some(n);
        self
    }

    /// This endpoint with Tunnel-Password `secret`.
    #[must_use]
    pub fn password(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.password = Some(secret.into());
        self
    }

    /// This endpoint with Tunnel-Assignment-Id `id`.
    #[must_use]
    pub fn assignment_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.assignment_id = Some(id.into());
        self
    }
}

/// Why a plan was not built ([`TunnelPlan::new`], [`TunnelPlan::from_tagged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// More than [`MAX_PLAN_ENDPOINTS`] endpoints.
    #[error("more than 31 endpoints")]
    TooManyEndpoints,
    /// More than [`MAX_PLAN_LEVELS`] distinct preferences.
    #[error("more than 8 preference levels")]
    TooManyLevels,
    /// A password or assignment id longer than [`MAX_PLAN_VALUE_LEN`] (tag given, 0 for
    /// [`TunnelPlan::new`]).
    #[error("value too long (tag {0})")]
    TooLong(u8),
    /// An L2TP tag without Tunnel-Server-Endpoint.
    #[error("no server endpoint (tag {0})")]
    NoServer(u8),
    /// A Tunnel-Server-Endpoint or Tunnel-Client-Endpoint that is not an IPv4 or IPv6 address
    /// in text (an FQDN, RFC 2868 3.3, needs a resolver: resolve it first).
    #[error("endpoint is not an address (tag {0})")]
    BadAddress(u8),
    /// A Tunnel-Medium-Type that is not the family of the server endpoint, or neither IPv4 nor
    /// IPv6.
    #[error("medium type does not match the endpoint (tag {0})")]
    Medium(u8),
    /// A server endpoint no datagram can be sent to: port 0
    /// (reserved, RFC 6335 section 6) or the unspecified address (0.0.0.0 or `::`, RFC 1122
    /// section 3.2.1.3, RFC 4291 section 2.5.2); `tag` as for [`PlanError::TooLong`]. The
    /// same name as [`crate::l2tp::ConfigError::UnusableAddress`] for the LAC's configured LNSs.
    #[error("tag {tag}: unusable server endpoint {addr}")]
    UnusableAddress {
        /// The RFC 2868 tag (0 for [`TunnelPlan::new`]).
        tag: u8,
        /// The server endpoint.
        addr: SocketAddr,
    },
}

/// Why the LAC put an LNS on its deny-list ([`crate::l2tp::Event::LnsDenied`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// The LNS stopped answering: our control channel's retransmissions ran out while the tunnel
    /// was being set up (RFC 2661 5.8), or no ICRP came in time (we cleared the session with
    /// CDN Result 10, RFC 2661 4.4.2).
    Timeout,
    /// The LNS closed the tunnel in set-up with StopCCN carrying this Result Code (RFC 2661
    /// 4.4.2, StopCCN values), other than 4.
    StopCcn(ResultCodeValue),
    /// The LNS cleared the call with CDN carrying this busy Result Code (RFC 2661 4.4.2, CDN
    /// values 4 and 5, lack of facilities; 8, busy; 10, time-out).
    Busy(ResultCodeValue),
    /// Tunnel authentication failed (RFC 2661 5.1.1): the LNS's Challenge Response did not match
    /// the tunnel's secret (we sent StopCCN Result 4), or the LNS refused ours (StopCCN Result 4,
    /// "not authorized").
    Authentication,
}

impl DenyReason {
    /// The reason for a tunnel in set-up that closed with StopCCN `result` (sent or received),
    /// or died without one (`None`: [`DenyReason::Timeout`]).
    pub(super) fn of_stopccn(result: Option<&ResultCode<'_>>) -> DenyReason {
        match result.map(|r| r.result) {
            None => DenyReason::Timeout,
            Some(ResultCodeValue::STOPCCN_NOT_AUTHORIZED) => DenyReason::Authentication,
            Some(r) => DenyReason::StopCcn(r),
        }
    }
}

/// Which endpoint of a level takes a call ([`super::LacConfig::plan_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PlanPolicy {
    /// At random, in proportion to [`PlanEndpoint::weight`].
    #[default]
    Weighted,
    /// The endpoint holding fewest of our calls (server and assignment id), ties broken at
    /// random.
    LeastFilled,
}

/// A call's tunnel plan: endpoints by preference (module docs). Each endpoint's tunnel is
/// authenticated with its own password ([`PlanEndpoint::password`]) when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TunnelPlan {
    /// Sorted by preference (stable: equal preferences keep their order).
    endpoints: Vec<PlanEndpoint>,
}

impl TunnelPlan {
    /// A plan of `endpoints` (any order; sorted by preference, stably).
    ///
    /// # Errors
    /// [`PlanError::TooManyEndpoints`], [`PlanError::TooManyLevels`], [`PlanError::TooLong`],
    /// [`PlanError::UnusableAddress`] (a server at port 0 or the unspecified address).
    pub fn new(mut endpoints: Vec<PlanEndpoint>) -> Result<TunnelPlan, PlanError> {
        if endpoints.len() > MAX_PLAN_ENDPOINTS {
            return Err(PlanError::TooManyEndpoints);
        }
        if let Some(e) = endpoints.iter().find(|e| !crate::io::usable_peer(e.server)) {
            return Err(PlanError::UnusableAddress {
                tag: 0,
                addr: e.server,
            });
        }
        let long = |v: &Option<Vec<u8>>| v.as_ref().is_some_and(|v| v.len() > MAX_PLAN_VALUE_LEN);
        if endpoints
            .iter()
            .any(|e| long(&e.password) || long(&e.assignment_id))
        {
            return Err(PlanError::TooLong(0));
        }
        endpoints.sort_by_key(|e| e.preference);
        let plan = TunnelPlan { endpoints };
        if plan.levels().count() > MAX_PLAN_LEVELS {
            return Err(PlanError::TooManyLevels);
        }
        Ok(plan)
    }

    /// The endpoints, by preference.
    pub fn endpoints(&self) -> &[PlanEndpoint] {
        &self.endpoints
    }

    /// Whether the plan has no endpoint (a call then uses the contact LNS).
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The levels, most preferred first.
    pub fn levels(&self) -> impl Iterator<Item = &[PlanEndpoint]> {
        self.endpoints.chunk_by(|a, b| a.preference == b.preference)
    }

    /// A plan from RFC 2868 tagged tunnel attributes (module docs), one endpoint per tag in the
    /// order tags first appear. Tags whose Tunnel-Type is not L2TP are skipped (they describe
    /// other tunnels); a tag without Tunnel-Type is taken as L2TP. A missing Tunnel-Preference is
    /// 0. The last value of a repeated attribute counts.
    ///
    /// # Errors
    /// [`PlanError`]: a tag without server endpoint, an address that does not parse or is
    /// unspecified ([`PlanError::UnusableAddress`]), a medium type of the other family, a value
    /// too long, too many endpoints or levels.
    pub fn from_tagged(attrs: &[TaggedAttribute]) -> Result<TunnelPlan, PlanError> {
        let mut order: Vec<u8> = Vec::new();
        for a in attrs {
            if !order.contains(&a.tag) {
                order.push(a.tag);
            }
        }
        if order.len() > MAX_PLAN_ENDPOINTS {
            return Err(PlanError::TooManyEndpoints);
        }
        let mut endpoints = Vec::new();
        for group in order {
            // The RFC 2868 group of `group` (a grouping tag, not an authenticator).
            let same = |a: &&TaggedAttribute| u8::cmp(&a.tag, &group).is_eq();
            if let Some(e) = endpoint_of(group, attrs.iter().filter(same))? {
                endpoints.push(e);
            }
        }
        TunnelPlan::new(endpoints).map_err(|e| match e {
            PlanError::TooLong(_) => PlanError::TooLong(0),
            e => e,
        })
    }
}

/// One tag's endpoint (`None`: not an L2TP tunnel).
fn endpoint_of<'a>(
    tag: u8,
    attrs: impl Iterator<Item = &'a TaggedAttribute>,
) -> Result<Option<PlanEndpoint>, PlanError> {
    let parse = |v: &[u8]| -> Result<IpAddr, PlanError> {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or(PlanError::BadAddress(tag))
    };
    let (mut server, mut medium, mut l2tp) = (None, None, true);
    let mut e = PlanEndpoint::new(SocketAddr::from(([0, 0, 0, 0], super::super::L2TP_PORT)));
    for a in attrs {
        match &a.value {
            TunnelAttribute::Type(t) => l2tp = *t == TUNNEL_TYPE_L2TP,
            TunnelAttribute::MediumType(m) => medium = Some(*m),
            TunnelAttribute::ServerEndpoint(v) => server = Some(parse(v)?),
            TunnelAttribute::ClientEndpoint(v) => e.client = Some(parse(v)?),
            TunnelAttribute::Password(v) | TunnelAttribute::AssignmentId(v)
                if v.len() > MAX_PLAN_VALUE_LEN =>
            {
                return Err(PlanError::TooLong(tag));
            }
            TunnelAttribute::Password(v) => e.password = Some(v.clone()),
            TunnelAttribute::AssignmentId(v) => e.assignment_id = Some(v.clone()),
            TunnelAttribute::Preference(p) => e.preference = *p,
            TunnelAttribute::Weight(w) => e.weight = *w,
            TunnelAttribute::MaxSessions(n) => e.max_sessions = Some(*n),
        }
    }
    if !l2tp {
        return Ok(None);
    }
    let server = server.ok_or(PlanError::NoServer(tag))?;
    match (medium, server) {
        (None, _)
        | (Some(TUNNEL_MEDIUM_IPV4), IpAddr::V4(_))
        | (Some(TUNNEL_MEDIUM_IPV6), IpAddr::V6(_)) => {}
        _ => return Err(PlanError::Medium(tag)),
    }
    e.server = SocketAddr::new(server, super::super::L2TP_PORT);
    if !crate::io::usable_peer(e.server) {
        return Err(PlanError::UnusableAddress {
            tag,
            addr: e.server,
        });
    }
    Ok(Some(e))
}

/// One RFC 2868 tunnel attribute with its tag ([`TunnelPlan::from_tagged`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedAttribute {
    /// The tag (RFC 2868 3: 0x01-0x1F group the attributes of one tunnel; 0 is a group too).
    pub tag: u8,
    /// The attribute.
    pub value: TunnelAttribute,
}

/// An RFC 2868 tunnel attribute, decoded (string values as received; Tunnel-Password decrypted;
/// `Debug` shows the password's length only).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TunnelAttribute {
    /// Tunnel-Type (64, RFC 2868 3.1): [`TUNNEL_TYPE_L2TP`] for ours.
    Type(u32),
    /// Tunnel-Medium-Type (65, 3.2): [`TUNNEL_MEDIUM_IPV4`] or [`TUNNEL_MEDIUM_IPV6`].
    MediumType(u32),
    /// Tunnel-Client-Endpoint (66, 3.3): our address, in text.
    ClientEndpoint(Vec<u8>),
    /// Tunnel-Server-Endpoint (67, 3.4): the LNS address, in text.
    ServerEndpoint(Vec<u8>),
    /// Tunnel-Password (69, 3.5), decrypted.
    Password(Vec<u8>),
    /// Tunnel-Assignment-Id (82, 3.7).
    AssignmentId(Vec<u8>),
    /// Tunnel-Preference (83, 3.8).
    Preference(u32),
    /// The endpoint's weight (a vendor attribute; RFC 2868 has none).
    Weight(u32),
    /// The endpoint's session cap (a vendor attribute; RFC 2868 has none).
    MaxSessions(u32),
}

impl TunnelAttribute {
    /// The RADIUS attribute type (RFC 2868 3), `None` for the vendor ones.
    pub fn radius_type(&self) -> Option<u8> {
        Some(match self {
            TunnelAttribute::Type(_) => 64,
            TunnelAttribute::MediumType(_) => 65,
            TunnelAttribute::ClientEndpoint(_) => 66,
            TunnelAttribute::ServerEndpoint(_) => 67,
            TunnelAttribute::Password(_) => 69,
            TunnelAttribute::AssignmentId(_) => 82,
            TunnelAttribute::Preference(_) => 83,
            TunnelAttribute::Weight(_) | TunnelAttribute::MaxSessions(_) => return None,
        })
    }
}

impl fmt::Debug for PlanEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanEndpoint")
            .field("server", &self.server)
            .field("client", &self.client)
            .field("preference", &self.preference)
            .field("weight", &self.weight)
            .field("max_sessions", &self.max_sessions)
            .field("password", &Redacted(self.password.as_deref()))
            .field("assignment_id", &self.assignment_id)
            .finish()
    }
}

impl fmt::Debug for TunnelAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, value): (&str, &dyn fmt::Debug) = match self {
            TunnelAttribute::Type(v) => ("Type", v),
            TunnelAttribute::MediumType(v) => ("MediumType", v),
            TunnelAttribute::ClientEndpoint(v) => ("ClientEndpoint", v),
            TunnelAttribute::ServerEndpoint(v) => ("ServerEndpoint", v),
            TunnelAttribute::Password(v) => {
                return write!(f, "Password(<{} bytes redacted>)", v.len());
            }
            TunnelAttribute::AssignmentId(v) => ("AssignmentId", v),
            TunnelAttribute::Preference(v) => ("Preference", v),
            TunnelAttribute::Weight(v) => ("Weight", v),
            TunnelAttribute::MaxSessions(v) => ("MaxSessions", v),
        };
        f.debug_tuple(name).field(value).finish()
    }
}

/// Where a call stands in its plan: the plan and the endpoints already tried (bit `i`: index
/// `i` of [`TunnelPlan::endpoints`]).
#[derive(Debug, Clone)]
pub(super) struct PlanCursor {
    pub plan: TunnelPlan,
    pub tried: u32,
}

/// The timed deny-list of LNSs that failed (by address), bounded: when full, the entry that
/// expires first makes room.
#[derive(Debug, Clone, Default)]
pub(super) struct DenyList {
    until: BTreeMap<IpAddr, Instant>,
}

impl DenyList {
    /// Whether `ip` is denied at `now`.
    pub fn is_denied(&self, ip: IpAddr, now: Instant) -> bool {
        self.until.get(&ip).is_some_and(|u| *u > now)
    }

    /// Denies `ip` until `until`, at most `max` entries (expired ones go first). Returns whether
    /// a live entry was evicted to make room.
    pub fn deny(&mut self, ip: IpAddr, until: Instant, now: Instant, max: usize) -> bool {
        self.until.retain(|_, u| *u > now);
        let mut evicted = false;
        if !self.until.contains_key(&ip) && self.until.len() >= max {
            if let Some(first) = self.until.iter().min_by_key(|(_, u)| **u).map(|(a, _)| *a) {
                self.until.remove(&first);
                evicted = true;
            }
        }
        if max > 0 {
            self.until.insert(ip, until);
        }
        evicted
    }

    /// The live entries at `now`.
    pub fn entries(&self, now: Instant) -> impl Iterator<Item = (IpAddr, Instant)> + '_ {
        self.until
            .iter()
            .filter(move |(_, u)| **u > now)
            .map(|(a, u)| (*a, *u))
    }
}

/// The next endpoint of `c`'s plan: the first level with an eligible endpoint (not tried, not
/// `denied`, `held` below its cap), then the policy within it.
pub(super) fn choose(
    c: &PlanCursor,
    policy: PlanPolicy,
    rng: &mut Rng,
    denied: impl Fn(IpAddr) -> bool,
    held: impl Fn(&PlanEndpoint) -> u32,
) -> Option<usize> {
    let mut start = 0;
    for level in c.plan.levels() {
        let eligible: Vec<(usize, u32)> = level
            .iter()
            .enumerate()
            .map(|(i, e)| (start + i, e))
            .filter(|(i, e)| {
                c.tried & (1 << i) == 0
                    && !denied(e.server.ip())
                    && e.max_sessions.is_none_or(|cap| held(e) < cap)
            })
            .map(|(i, e)| (i, held(e)))
            .collect();
        start += level.len();
        if eligible.is_empty() {
            continue;
        }
        let endpoints = &c.plan.endpoints;
        return Some(match policy {
            PlanPolicy::Weighted => {
                let total: u64 = eligible
                    .iter()
                    .map(|(i, _)| u64::from(endpoints[*i].weight))
                    .sum();
                if total == 0 {
                    eligible[rng.below(eligible.len() as u64) as usize].0
                } else {
                    let mut r = rng.below(total);
                    let mut pick = eligible[0].0;
                    for (i, _) in &eligible {
                        let w = u64::from(endpoints[*i].weight);
                        if r < w {
                            pick = *i;
                            break;
                        }
                        r -= w;
                    }
                    pick
                }
            }
            PlanPolicy::LeastFilled => {
                let least = eligible.iter().map(|(_, h)| *h).min().unwrap_or(0);
                let ties: Vec<usize> = eligible
                    .iter()
                    .filter(|(_, h)| *h == least)
                    .map(|(i, _)| *i)
                    .collect();
                ties[rng.below(ties.len() as u64) as usize]
            }
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, pref: u32) -> PlanEndpoint {
        PlanEndpoint::new(SocketAddr::new(ip.parse().unwrap(), 1701)).preference(pref)
    }

    #[test]
    fn levels_sorted_and_bounded() {
        let p = TunnelPlan::new(vec![
            ep("10.0.0.3", 5),
            ep("10.0.0.1", 1),
            ep("10.0.0.2", 1),
        ])
        .unwrap();
        let levels: Vec<usize> = p.levels().map(<[_]>::len).collect();
        assert_eq!(levels, [2, 1]);
        assert_eq!(p.endpoints()[2].server.ip().to_string(), "10.0.0.3");
        let nine = (0..9).map(|i| ep("10.0.0.1", i)).collect();
        assert_eq!(TunnelPlan::new(nine), Err(PlanError::TooManyLevels));
        let many = (0..32).map(|_| ep("10.0.0.1", 0)).collect();
        assert_eq!(TunnelPlan::new(many), Err(PlanError::TooManyEndpoints));
    }

    #[test]
    fn from_tagged_maps_rfc2868_groups() {
        use TunnelAttribute as T;
        let t = |tag, value| TaggedAttribute { tag, value };
        let attrs = [
            t(1, T::Type(TUNNEL_TYPE_L2TP)),
            t(1, T::MediumType(TUNNEL_MEDIUM_IPV6)),
            t(1, T::ServerEndpoint(b"2001:db8::1".to_vec())),
            t(1, T::Preference(2)),
            t(1, T::AssignmentId(b"a".to_vec())),
            t(2, T::Type(TUNNEL_TYPE_L2TP)),
            t(2, T::ServerEndpoint(b"192.0.2.7".to_vec())),
            t(2, T::Preference(1)),
            t(2, T::Password(b"pw".to_vec())),
            t(3, T::Type(1)), // PPTP: not ours
            t(3, T::ServerEndpoint(b"192.0.2.9".to_vec())),
        ];
        let p = TunnelPlan::from_tagged(&attrs).unwrap();
        assert_eq!(p.endpoints().len(), 2);
        assert_eq!(p.endpoints()[0].server, "192.0.2.7:1701".parse().unwrap());
        assert_eq!(p.endpoints()[0].password.as_deref(), Some(&b"pw"[..]));
        let shown = format!("{p:?} {attrs:?}");
        assert!(
            !shown.contains("[112, 119]") && !shown.contains("\"pw\""),
            "{shown}"
        );
        assert!(shown.contains("<2 bytes redacted>"), "{shown}");
        assert_eq!(
            p.endpoints()[1].server,
            "[2001:db8::1]:1701".parse().unwrap()
        );
        assert_eq!(p.endpoints()[1].assignment_id.as_deref(), Some(&b"a"[..]));
        let bad = [
            t(4, T::MediumType(TUNNEL_MEDIUM_IPV4)),
            t(4, T::ServerEndpoint(b"2001:db8::1".to_vec())),
        ];
        assert_eq!(TunnelPlan::from_tagged(&bad), Err(PlanError::Medium(4)));
        let fqdn = [t(5, T::ServerEndpoint(b"lns.example".to_vec()))];
        assert_eq!(
            TunnelPlan::from_tagged(&fqdn),
            Err(PlanError::BadAddress(5))
        );
        assert_eq!(
            TunnelPlan::from_tagged(&[t(6, T::Preference(1))]),
            Err(PlanError::NoServer(6))
        );
    }

    #[test]
    fn deny_list_is_bounded_and_timed() {
        let now = Instant::now();
        let s = std::time::Duration::from_secs(1);
        let mut d = DenyList::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(!d.deny(a, now + 10 * s, now, 1));
        assert!(d.is_denied(a, now + 9 * s) && !d.is_denied(a, now + 10 * s));
        assert!(d.deny(b, now + 20 * s, now, 1));
        assert!(!d.is_denied(a, now) && d.is_denied(b, now));
        // An expired entry makes room without an eviction.
        assert!(!d.deny(a, now + 40 * s, now + 30 * s, 1));
    }
}
