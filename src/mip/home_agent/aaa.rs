//! MN-HA keys from AAA, sans IO (the way 3GPP2 and WiMAX deliver them per registration, from
//! RADIUS or Diameter): a request naming a mobile node and SPI this HA holds no key for is parked
//! and the caller asked for the key ([`Event::KeyRequest`]); the caller answers with
//! [`HomeAgent::provide_key`] or [`HomeAgent::deny`].
//!
//! Where: the HA that authenticates the request asks, that is the serving (second) HA. A first
//! HA without the key forwards the request as usual, unauthenticated (its temporary binding is
//! bounded by `max_pending` and ends with its pending timer), and accepts the second HA's reply
//! when it comes inside an authenticated cluster message ([`Body::Relay`]: the serving member
//! vouches for it; a serving HA using an AAA key relays its replies that way in layer-2 mode too).
//! The key travels with the replicated binding ([`Record::key`], sealed with the cluster's
//! key-wrapping key, [`crate::mip::cluster::KeyWrap`]), so a takeover or a first HA holding the
//! replica verifies without a new request. A batch with a key that does not open is refused
//! whole ([`ClusterError::KeyRefused`], [`HaStats::cluster_keys_refused`]).

use super::register::Asked;
use super::*;
use crate::io::auth::MIN_KEY_LEN;
use crate::mip::cluster::{KeyWrap, RecordKey, SealedKey, Secret};
use std::fmt;

/// Bounds of the keys-from-AAA machinery ([`HomeAgentConfig::aaa`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AaaConfig {
    /// Most requests parked awaiting a key. Beyond, a request for an unknown key is refused with
    /// 130 (insufficient resources, RFC 5944 section 3.4) and counted in
    /// [`HaStats::key_requests_refused`]. Default 1024.
    pub max_pending: usize,
    /// How long a parked request waits for [`HomeAgent::provide_key`] or [`HomeAgent::deny`].
    /// Then it is refused with 130 (the HA could not get what it needed in time: a transient
    /// condition, not the mobile node's fault, so not 131), counted in
    /// [`HaStats::key_requests_expired`] and reported ([`Event::KeyRequestExpired`]). Default 5 s.
    pub timeout: Duration,
    /// Most keys held from AAA (provided or replicated). When full, expired keys go first; a key
    /// that still does not fit is not installed: [`HomeAgent::provide_key`] refuses the request
    /// with 130 ([`HaStats::key_requests_refused`]), a replicated one is not kept (the takeover
    /// asks again). Default 100 000.
    pub max_keys: usize,
}

impl Default for AaaConfig {
    fn default() -> Self {
        AaaConfig {
            max_pending: 1024,
            timeout: Duration::from_secs(5),
            max_keys: 100_000,
        }
    }
}

/// Names one parked request in [`Event::KeyRequest`], [`HomeAgent::provide_key`] and
/// [`HomeAgent::deny`]. Never reused by one [`HomeAgent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRequestId(pub u64);

/// An MN-HA key from AAA (HMAC-MD5, RFC 5944 section 3.5.1's default algorithm; the SPI is the
/// request's). Its `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct AaaKey {
    /// The key: [`MIN_KEY_LEN`] (16) to 255 octets. RFC 5944 section 5.1 makes HMAC-MD5 with
    /// 128-bit keys the default, and RFC 2104 section 3 strongly discourages HMAC keys shorter
    /// than the 16-octet hash: [`HomeAgent::provide_key`] refuses a shorter key
    /// ([`KeyError::KeyTooShort`]), as a configured one is refused
    /// ([`ConfigError::KeyTooShort`]).
    pub key: Vec<u8>,
    /// How long the key may be used, from the `now` it is provided at. A registration after it
    /// asks AAA again.
    pub lifetime: Duration,
    /// The home address AAA assigned, for a mobile node that asked with 0.0.0.0 and its NAI
    /// (used instead of the pool).
    pub home_address: Option<Ipv4Addr>,
}

impl fmt::Debug for AaaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AaaKey")
            .field("key", &format_args!("<{} bytes redacted>", self.key.len()))
            .field("lifetime", &self.lifetime)
            .field("home_address", &self.home_address)
            .finish()
    }
}

/// Why AAA refused a key, and the code the parked request is refused with (RFC 5944 section
/// 3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// AAA does not know the mobile node or the SPI, or its credentials failed: 131 (mobile node
    /// failed authentication).
    AuthenticationFailed,
    /// The mobile node is known but not allowed service (subscription, policy): 129
    /// (administratively prohibited).
    AdministrativelyProhibited,
}

impl DenyReason {
    /// The Registration Reply code it is answered with.
    pub fn code(self) -> ReplyCode {
        match self {
            DenyReason::AuthenticationFailed => ReplyCode::MN_AUTH_FAILED,
            DenyReason::AdministrativelyProhibited => ReplyCode::HA_ADMIN_PROHIBITED,
        }
    }
}

/// Why [`HomeAgent::provide_key`] or [`HomeAgent::deny`] did nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No parked request has this id (answered already, timed out, or never asked).
    #[error("no parked request {0:?}")]
    UnknownRequest(KeyRequestId),
    /// The key is longer than 255 octets: the parked request stays.
    #[error("key length out of range")]
    BadKey,
    /// The key has fewer than `min` ([`MIN_KEY_LEN`], 16) octets (RFC 5944 section 5.1:
    /// HMAC-MD5 with 128-bit keys; RFC 2104 section 3). The embedder's error, not the mobile
    /// node's: nothing is sent, the parked request stays (answer it again with a usable key,
    /// [`HomeAgent::deny`] it, or let it time out with 130), as [`ConfigError::KeyTooShort`]
    /// refuses a configured key.
    #[error("key of {octets} octets, at least {min} needed")]
    KeyTooShort {
        /// Octets given.
        octets: usize,
        /// The fewest accepted.
        min: usize,
    },
    /// The request was refused with this code (after the key: it failed authentication with
    /// it, 131, or any later check; or the key table is full, 130).
    #[error("request refused: {0}")]
    Refused(ReplyCode),
}

/// A request awaiting its key.
#[derive(Debug)]
struct Parked {
    deadline: Instant,
    from: SocketAddr,
    to: SocketAddr,
    /// The request as received.
    data: Box<[u8]>,
    /// Handled again as forwarded by this member (this HA itself: served here).
    forwarded_by: Option<NodeId>,
    index: (MnId, u32),
    identification: u64,
}

/// An MN-HA key held from AAA for one mobile node.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) sa: MnSa,
    /// The key, for replication (its `Debug` hides it).
    pub(super) secret: Secret,
    pub(super) expires: Instant,
    pub(super) home_address: Option<Ipv4Addr>,
}

/// The parked requests and the keys from AAA.
#[derive(Debug)]
pub(super) struct Aaa {
    cfg: AaaConfig,
    next_id: u64,
    /// By id: ids grow with time and the timeout is fixed, so the first is the next to expire.
    parked: BTreeMap<u64, Parked>,
    by_mn: HashMap<(MnId, u32), u64, Hasher>,
    pub(super) keys: HashMap<MnId, Held, Hasher>,
    next_principal: u32,
}

impl Aaa {
    pub(super) fn new(cfg: AaaConfig, hasher: &Hasher) -> Aaa {
        Aaa {
            cfg,
            next_id: 0,
            parked: BTreeMap::new(),
            by_mn: HashMap::with_hasher(hasher.clone()),
            keys: HashMap::with_hasher(hasher.clone()),
            next_principal: 0,
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.parked.first_key_value().map(|(_, p)| p.deadline)
    }

    /// Installs `key` for every identity in `ids`; false when the table is full.
    pub(super) fn install(
        &mut self,
        now: Instant,
        ids: &[MnId],
        spi: u32,
        secret: &[u8],
        expires: Instant,
        home_address: Option<Ipv4Addr>,
    ) -> bool {
        let new = ids.iter().filter(|i| !self.keys.contains_key(i)).count();
        if self.keys.len() + new > self.cfg.max_keys {
            self.keys.retain(|_, h| h.expires > now);
        }
        if self.keys.len() + new > self.cfg.max_keys {
            return false;
        }
        // Principals of AAA keys never meet those of configured keys (counted from the top).
        self.next_principal = self.next_principal.wrapping_add(1);
        let sa = MnSa {
            spi,
            key: SecurityAssociation::new(spi, AuthAlgorithm::HmacMd5, secret.to_vec()).prepare(),
            principal: u32::MAX - 1 - (self.next_principal & 0x7fff_ffff),
            from_aaa: true,
        };
        for id in ids {
            self.keys.insert(
                id.clone(),
                Held {
                    sa: sa.clone(),
                    secret: Secret(secret.into()),
                    expires,
                    home_address,
                },
            );
        }
        true
    }
}

/// The identities a key from AAA is held under: the home address (when not 0.0.0.0) and the NAI.
fn identities(home: Ipv4Addr, nai: Option<&[u8]>) -> Vec<MnId> {
    let mut ids = Vec::with_capacity(2);
    if !home.is_unspecified() {
        ids.push(MnId::Home(home));
    }
    if let Some(n) = nai {
        ids.push(MnId::Nai(n.into()));
    }
    ids
}

impl HomeAgent {
    /// The key held from AAA for a mobile node (by home address, then NAI), expired or not.
    pub(super) fn aaa_sa(&self, home: Ipv4Addr, nai: Option<&[u8]>) -> Option<&Held> {
        let aaa = self.aaa.as_ref()?;
        if !home.is_unspecified()
            && let Some(h) = aaa.keys.get(&MnId::Home(home))
        {
            return Some(h);
        }
        nai.and_then(|n| aaa.keys.get(&MnId::Nai(n.into())))
    }

    /// The key from AAA for this mobile node and SPI, unless its lifetime has ended.
    pub(super) fn fresh_aaa_sa(
        &self,
        now: Instant,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        spi: u32,
    ) -> Option<MnSa> {
        self.aaa_sa(home, nai)
            .filter(|h| h.expires > now && h.sa.spi == spi)
            .map(|h| h.sa.clone())
    }

    /// The home address AAA assigned the mobile node with this NAI, if any.
    pub(super) fn aaa_home(&self, nai: Option<&[u8]>) -> Option<Ipv4Addr> {
        self.aaa_sa(Ipv4Addr::UNSPECIFIED, nai)
            .and_then(|h| h.home_address)
    }

    /// Parks a request this HA authenticates but holds no key for, and asks the caller
    /// ([`Event::KeyRequest`]). A copy of a parked request (same mobile node, SPI and
    /// identification) is absorbed; a newer one replaces it under the same id.
    pub(super) fn park(
        &mut self,
        a: &Asked<'_>,
        to: SocketAddr,
        data: &[u8],
        mn: MnId,
        spi: u32,
        forwarded_by: Option<NodeId>,
    ) -> Result<(), InputError> {
        let Some(aaa) = self.aaa.as_mut() else {
            return Err(self.refuse(a, ReplyCode::MN_AUTH_FAILED, None));
        };
        let index = (mn, spi);
        if let Some(id) = aaa.by_mn.get(&index).copied()
            && let Some(p) = aaa.parked.get_mut(&id)
        {
            if a.q.identification > p.identification {
                p.identification = a.q.identification;
                p.data = data.into();
                p.from = a.from;
                p.to = to;
                p.forwarded_by = forwarded_by;
            }
            return Ok(());
        }
        if aaa.parked.len() >= aaa.cfg.max_pending {
            self.stats.key_requests_refused += 1;
            return Err(self.refuse(a, ReplyCode::HA_INSUFFICIENT_RESOURCES, None));
        }
        aaa.next_id += 1;
        let id = aaa.next_id;
        let deadline = a.now + aaa.cfg.timeout;
        let nai = a.nai.map(Box::from);
        aaa.by_mn.insert(index.clone(), id);
        aaa.parked.insert(
            id,
            Parked {
                deadline,
                from: a.from,
                to,
                data: data.into(),
                forwarded_by,
                index,
                identification: a.q.identification,
            },
        );
        self.stats.key_requests += 1;
        self.push_event(Event::KeyRequest {
            id: KeyRequestId(id),
            nai,
            home_address: a.q.home_address,
            spi,
            ha_address: a.q.home_agent,
        });
        Ok(())
    }

    fn unpark(&mut self, id: KeyRequestId) -> Result<Parked, KeyError> {
        let aaa = self.aaa.as_mut().ok_or(KeyError::UnknownRequest(id))?;
        let p = aaa
            .parked
            .remove(&id.0)
            .ok_or(KeyError::UnknownRequest(id))?;
        aaa.by_mn.remove(&p.index);
        Ok(p)
    }

    /// Refuses a parked request with `code` (no key: the reply is not authenticated, and is
    /// rate-limited as other unproven refusals are).
    fn refuse_parked(&mut self, now: Instant, p: &Parked, code: ReplyCode) {
        let Ok((Header::Request(q), _)) = Header::parse(&p.data) else {
            return;
        };
        let nai = Summary::parse(&p.data)
            .ok()
            .and_then(|m| m.covered_nai().map(|n| n.to_vec()));
        self.set_reply_src(p.to);
        let a = Asked {
            now,
            from: p.from,
            q: &q,
            relay: p.forwarded_by,
            nai: nai.as_deref(),
            assigned: None,
            revocation: None,
            tunnel: crate::mip::wire::TunnelAsk::default(),
            found: None,
        };
        self.refuse(&a, code, None);
    }

    /// AAA's answer to [`Event::KeyRequest`] `id`: the key is held for the mobile node (its home
    /// address and NAI) until its lifetime ends, and the parked request is handled again with
    /// it, as received (answered, authenticated with the key, or refused: 131 when the key does
    /// not verify it).
    ///
    /// # Errors
    /// [`KeyError::UnknownRequest`]: no such parked request (nothing changes);
    /// [`KeyError::KeyTooShort`]: a key under [`MIN_KEY_LEN`] (16) octets, and
    /// [`KeyError::BadKey`]: one over 255 octets (the request stays parked, nothing is sent);
    /// [`KeyError::Refused`]: the request was refused with that code.
    pub fn provide_key(
        &mut self,
        now: Instant,
        id: KeyRequestId,
        key: AaaKey,
    ) -> Result<(), KeyError> {
        self.at = now;
        let octets = key.key.len();
        if !(MIN_KEY_LEN..=255).contains(&octets) {
            let known = self
                .aaa
                .as_ref()
                .is_some_and(|a| a.parked.contains_key(&id.0));
            return Err(if !known {
                KeyError::UnknownRequest(id)
            } else if octets > 255 {
                KeyError::BadKey
            } else {
                KeyError::KeyTooShort {
                    octets,
                    min: MIN_KEY_LEN,
                }
            });
        }
        let p = self.unpark(id)?;
        let nai = Summary::parse(&p.data)
            .ok()
            .and_then(|m| m.covered_nai().map(|n| n.to_vec()));
        let home = match Header::parse(&p.data) {
            Ok((Header::Request(q), _)) => q.home_address,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let mut ids = identities(home, nai.as_deref());
        if let Some(h) = key.home_address
            && h != home
            && !h.is_unspecified()
        {
            ids.push(MnId::Home(h));
        }
        let expires = now + key.lifetime;
        let spi = p.index.1;
        let fits = self
            .aaa
            .as_mut()
            .is_some_and(|aaa| aaa.install(now, &ids, spi, &key.key, expires, key.home_address));
        if !fits {
            self.stats.key_requests_refused += 1;
            self.refuse_parked(now, &p, ReplyCode::HA_INSUFFICIENT_RESOURCES);
            return Err(KeyError::Refused(ReplyCode::HA_INSUFFICIENT_RESOURCES));
        }
        self.stats.keys_provided += 1;
        self.replaying = true;
        let r = self.handle_request(now, p.from, p.to, &p.data, p.forwarded_by);
        self.replaying = false;
        match r {
            Err(InputError::Refused(code)) => Err(KeyError::Refused(code)),
            _ => Ok(()),
        }
    }

    /// AAA refused the key of [`Event::KeyRequest`] `id`: the parked request is refused with
    /// the reason's code (131 or 129, RFC 5944 section 3.4), unauthenticated.
    ///
    /// # Errors
    /// [`KeyError::UnknownRequest`]: no such parked request (nothing changes).
    pub fn deny(
        &mut self,
        now: Instant,
        id: KeyRequestId,
        reason: DenyReason,
    ) -> Result<(), KeyError> {
        self.at = now;
        let p = self.unpark(id)?;
        self.stats.keys_denied += 1;
        self.refuse_parked(now, &p, reason.code());
        Ok(())
    }

    /// Parked requests whose key did not come in time: refused with 130.
    pub(super) fn key_request_timeouts(&mut self, now: Instant) {
        loop {
            let Some(aaa) = self.aaa.as_mut() else {
                return;
            };
            let Some(e) = aaa.parked.first_entry() else {
                return;
            };
            if e.get().deadline > now {
                return;
            }
            let id = *e.key();
            let p = e.remove();
            aaa.by_mn.remove(&p.index);
            self.stats.key_requests_expired += 1;
            self.push_event(Event::KeyRequestExpired {
                id: KeyRequestId(id),
            });
            self.refuse_parked(now, &p, ReplyCode::HA_INSUFFICIENT_RESOURCES);
        }
    }

    /// A key carried by a replicated binding (opened, [`Sealer::open`]): held here too (unless
    /// one that lasts longer is).
    pub(super) fn hold_replicated_key(&mut self, now: Instant, r: &Record, k: &RecordKey) {
        let expires = now + k.left;
        let ids = identities(r.home_address, r.nai.as_deref());
        let Some(aaa) = self.aaa.as_mut() else {
            return;
        };
        let newer = ids.iter().all(|i| {
            aaa.keys
                .get(i)
                .is_none_or(|h| h.expires < expires || h.sa.spi != k.spi)
        });
        // A key under 128 bits is not held (as `provide_key` refuses it): the takeover asks AAA.
        if newer && k.key.0.len() >= MIN_KEY_LEN {
            let home = (!r.home_address.is_unspecified()).then_some(r.home_address);
            aaa.install(now, &ids, k.spi, &k.key.0, expires, home);
        }
    }

    /// Opens every sealed key of a replication batch, before any of it is applied: all open, or
    /// the batch is refused ([`ClusterError::KeyRefused`], counted).
    pub(super) fn open_keys(
        &mut self,
        items: &[Entry<Item>],
    ) -> Result<Vec<Option<RecordKey>>, ClusterError> {
        let opened = items
            .iter()
            .map(|e| match e {
                Entry::Item(Item::Upsert(r)) => r
                    .key
                    .as_ref()
                    .map(|k| self.sealer.open(r.home_address, r.nai.as_deref(), k))
                    .transpose(),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>();
        if opened.is_err() {
            self.stats.cluster_keys_refused += 1;
        }
        opened
    }
}

/// Seals the AAA keys this HA replicates and opens those it receives ([`KeyWrap`]): the
/// wrapping key, and the nonces' source (this node's id and incarnation, and a stream of the
/// HA's generator of its own).
#[derive(Debug)]
pub(super) struct Sealer {
    wrap: KeyWrap,
    node: u32,
    incarnation: u32,
    rng: Rng,
}

impl Sealer {
    pub(super) fn new(cluster_key: &[u8], node: NodeId, incarnation: u32, rng: &Rng) -> Sealer {
        Sealer {
            wrap: KeyWrap::new(cluster_key),
            node: node.0,
            incarnation,
            rng: rng.other_stream(0x6b65_795f_7772_6170),
        }
    }

    /// The sealed form of the AAA key the mobile node of `r` holds here, if any.
    pub(super) fn seal(
        &mut self,
        aaa: Option<&Aaa>,
        now: Instant,
        r: &Record,
    ) -> Option<SealedKey> {
        let (home, nai) = (r.home_address, r.nai.as_deref());
        let k = record_key(aaa, now, home, nai)?;
        let nonce = KeyWrap::nonce(self.node, self.incarnation, &mut self.rng);
        self.wrap.seal(nonce, home, nai, &k)
    }

    /// [`KeyWrap::open`].
    pub(super) fn open(
        &self,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        k: &SealedKey,
    ) -> Result<RecordKey, ClusterError> {
        self.wrap.open(home, nai, k)
    }
}

/// The key a replica of a binding carries: the AAA key its mobile node holds here, if any.
fn record_key(
    aaa: Option<&Aaa>,
    now: Instant,
    home: Ipv4Addr,
    nai: Option<&[u8]>,
) -> Option<RecordKey> {
    let aaa = aaa?;
    let h = (!home.is_unspecified())
        .then(|| aaa.keys.get(&MnId::Home(home)))
        .flatten()
        .or_else(|| nai.and_then(|n| aaa.keys.get(&MnId::Nai(n.into()))))?;
    Some(RecordKey {
        spi: h.sa.spi,
        key: h.secret.clone(),
        left: h.expires.saturating_duration_since(now),
    })
}
