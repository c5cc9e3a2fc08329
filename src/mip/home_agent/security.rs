//! Security associations (RFC 5944 section 3.5): the mobile nodes' MN-HA keys, the foreign
//! agents' FA-HA keys, and which mobile node a request's identities belong to.

use super::*;
use crate::io::table::{Bucket, Entry, OpenTable};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, Ordering};

/// A mobile node's SPI and prepared key: 56 octets, held in the table's own entries (a lookup
/// reads no other allocation) and copied out of it.
#[derive(Debug, Clone)]
pub(super) struct MnSa {
    pub(super) spi: u32,
    pub(super) key: PreparedKey,
    /// Which mobile node this is: configured identities (home address, NAI) with the same
    /// security association are one mobile node.
    pub(super) principal: u32,
    /// A key from AAA (`aaa.rs`), not configured.
    pub(super) from_aaa: bool,
}

/// A mobile node's association under its home address, in one 64-octet entry aligned to a
/// cache line: a lookup by home address reads the index's control bytes and this one line.
/// The line also keeps the slot of the mobile node's binding ([`SlotHint`]), in what was
/// padding.
#[derive(Debug)]
#[repr(C, align(64))]
struct ByHome {
    sa: MnSa,
    home: Ipv4Addr,
    slot: SlotHint,
}

/// The binding-table slot where the binding of a home address was last found, kept beside the
/// address's security association: the association is looked up first (its key verifies the
/// request), so the binding is then found without a second probe of a hash index
/// ([`crate::mip::binding::BindingTable::find_hinted`], which trusts it only when it is exactly
/// what the table's own lookup would return). Written when it changes, by a `&self` lookup
/// (hence atomic, relaxed: a plain load and store; only a cache).
#[derive(Debug)]
pub(super) struct SlotHint(AtomicU32);

/// [`SlotHint`]'s "none".
const NO_SLOT: u32 = u32::MAX;

impl SlotHint {
    fn new() -> SlotHint {
        SlotHint(AtomicU32::new(NO_SLOT))
    }

    /// The slot kept, if any.
    pub(super) fn get(&self) -> Option<u32> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&s| s != NO_SLOT)
    }

    /// Keeps `slot` (written only when it changes: the entry's line stays clean).
    pub(super) fn set(&self, slot: Option<u32>) {
        let v = slot.unwrap_or(NO_SLOT);
        if self.0.load(Ordering::Relaxed) != v {
            self.0.store(v, Ordering::Relaxed);
        }
    }
}

/// The mobile nodes' security associations by identity: by home address in [`ByHome`] entries
/// ([`ByHomeTable`]), by NAI in a map of its own. Bounded by the configuration (and AAA's
/// `max_keys`); built once, with the Home Agent.
#[derive(Debug)]
pub(super) struct MnSas {
    by_home: ByHomeTable,
    by_nai: HashMap<Box<[u8]>, MnSa, Hasher>,
    /// Lookups by home address or NAI so far (tests count them).
    #[cfg(test)]
    pub(super) lookups: std::cell::Cell<u64>,
}

/// The associations by home address: an open-addressed table with linear probing
/// ([`OpenTable`]) whose buckets are the [`ByHome`] entries themselves (one 64-octet line each),
/// so a lookup reads the bucket its hash names and, rarely, the next ones: one random memory
/// access (a table of control bytes beside the entries, as `hashbrown`'s, makes it two dependent
/// ones, each a cache and TLB miss at a million mobile nodes). Built once and never shrunk
/// (associations by home address are configured: added or replaced at start, never removed), at
/// most two thirds full; a lookup stops at the first empty bucket, and reads every bucket at most
/// once. The bucket count need not be a power of two: a hash is mapped onto the buckets by a
/// multiply and shift of its high bits (the hash is foldhash's quality variant, whose high bits
/// are well mixed for small keys; see `io::timer`'s index, which uses the same table).
#[derive(Debug)]
struct ByHomeTable(OpenTable<ByHome, foldhash::quality::FixedState>);

impl Bucket for ByHome {
    type Key = Ipv4Addr;
    /// Two thirds.
    const LOAD: (usize, usize) = (2, 3);

    fn key(&self) -> &Ipv4Addr {
        &self.home
    }
}

impl ByHomeTable {
    /// Room for `n` associations (two thirds full at most, with a bucket more).
    fn with_capacity(n: usize, hasher: &Hasher) -> ByHomeTable {
        // The quality variant's seed, from the Home Agent's hasher (itself seeded from the
        // configuration).
        let seed = hasher.hash_one(0x5341_5f62_795f_686f_u64);
        ByHomeTable(OpenTable::with_capacity(
            n,
            foldhash::quality::FixedState::with_seed(seed),
        ))
    }

    /// The entry of `home`.
    #[inline]
    fn find(&self, home: Ipv4Addr) -> Option<&ByHome> {
        self.0.get(&home)
    }

    /// Adds `home`'s association, or replaces it (its slot hint kept).
    fn insert(&mut self, home: Ipv4Addr, sa: MnSa) {
        match self.0.entry(&home) {
            Some(Entry::Occupied(e)) => e.sa = sa,
            Some(Entry::Vacant(v)) => {
                v.insert(ByHome {
                    sa,
                    home,
                    slot: SlotHint::new(),
                });
            }
            None => {}
        }
    }
}

impl MnSas {
    fn with_capacity(n: usize, hasher: &Hasher) -> MnSas {
        MnSas {
            by_home: ByHomeTable::with_capacity(n, hasher),
            by_nai: HashMap::with_hasher(hasher.clone()),
            #[cfg(test)]
            lookups: std::cell::Cell::new(0),
        }
    }

    /// Adds or replaces the association of `id`.
    fn insert(&mut self, id: MnId, sa: MnSa) {
        match id {
            MnId::Home(home) => self.by_home.insert(home, sa),
            MnId::Nai(n) => {
                self.by_nai.insert(n, sa);
            }
        }
    }

    /// The association of the mobile node with this home address.
    pub(super) fn home(&self, home: Ipv4Addr) -> Option<&MnSa> {
        self.home_hinted(home).map(|(sa, _)| sa)
    }

    /// [`MnSas::home`], with the slot hint of the address's binding.
    pub(super) fn home_hinted(&self, home: Ipv4Addr) -> Option<(&MnSa, &SlotHint)> {
        #[cfg(test)]
        self.lookups.set(self.lookups.get() + 1);
        self.by_home.find(home).map(|e| (&e.sa, &e.slot))
    }

    /// The association of the mobile node with this NAI.
    pub(super) fn nai(&self, nai: &[u8]) -> Option<&MnSa> {
        #[cfg(test)]
        self.lookups.set(self.lookups.get() + 1);
        self.by_nai.get(nai)
    }

    /// The association of `id`.
    pub(super) fn get(&self, id: &MnId) -> Option<&MnSa> {
        match id {
            MnId::Home(h) => self.home(*h),
            MnId::Nai(n) => self.nai(n),
        }
    }
}
/// The foreign agents' security associations by address.
pub(super) type FaSas = HashMap<Ipv4Addr, MnSa, Hasher>;

/// The mobile nodes' security associations by identity, and the foreign agents' by address.
/// Configured identities with the same association (SPI, algorithm, key) are one mobile node.
pub(super) fn security_associations(cfg: &HomeAgentConfig, hasher: &Hasher) -> (MnSas, FaSas) {
    let mut sas = MnSas::with_capacity(cfg.mobile_nodes.len(), hasher);
    let mut principals: HashMap<(u32, AuthAlgorithm, &[u8]), u32> = HashMap::new();
    for k in &cfg.mobile_nodes {
        let n = principals.len() as u32;
        let principal = *principals
            .entry((k.sa.spi, k.sa.algorithm, &k.sa.key[..]))
            .or_insert(n);
        let sa = MnSa {
            spi: k.sa.spi,
            key: k.sa.prepare(),
            principal,
            from_aaa: false,
        };
        sas.insert(k.id.clone(), sa);
    }
    let mut fa_sas = HashMap::with_hasher(hasher.clone());
    fa_sas.extend(cfg.foreign_agents.iter().map(|(a, sa)| {
        let sa = MnSa {
            spi: sa.spi,
            key: sa.prepare(),
            principal: u32::MAX,
            from_aaa: false,
        };
        (*a, sa)
    }));
    (sas, fa_sas)
}

impl HomeAgent {
    pub(super) fn lookup_sa(&self, home: Ipv4Addr, nai: Option<&[u8]>) -> Option<MnSa> {
        self.lookup_sa_ref(home, nai).cloned()
    }

    /// [`HomeAgent::lookup_sa`] in place (not copied out of the table).
    pub(super) fn lookup_sa_ref(&self, home: Ipv4Addr, nai: Option<&[u8]>) -> Option<&MnSa> {
        self.lookup_sa_at(home, nai).map(|(sa, _)| sa)
    }

    /// [`HomeAgent::lookup_sa_ref`], and when the association is the one configured for the
    /// home address `home` itself (then it is that address's owner, [`HomeAgent::names_only`]),
    /// the slot hint of that address's binding ([`HomeAgent::find_binding`]).
    pub(super) fn lookup_sa_at(
        &self,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> Option<(&MnSa, Option<&SlotHint>)> {
        if !home.is_unspecified()
            && let Some((sa, hint)) = self.sas.home_hinted(home)
        {
            return Some((sa, Some(hint)));
        }
        if let Some(n) = nai
            && let Some(sa) = self.sas.nai(n)
        {
            return Some((sa, None));
        }
        // A mobile node known by NAI that now uses its assigned home address.
        self.binding(home, nai)
            .and_then(|b| b.nai())
            .and_then(|n| self.sas.nai(n))
            .map(|sa| (sa, None))
    }

    /// Adds a binding ([`BindingTable::insert`]) and keeps its slot as the hint of its home
    /// address's association (one exists when the request that made it was authenticated by
    /// that address: the association's line was just read), so the mobile node's next request
    /// finds it without the index.
    pub(super) fn insert_binding(&mut self, b: Binding) -> Result<u32, TableError> {
        let home = b.home_address;
        let slot = self.table.insert(b)?;
        if !home.is_unspecified()
            && let Some((_, hint)) = self.sas.home_hinted(home)
        {
            hint.set(Some(slot));
        }
        Ok(slot)
    }

    /// The slot of the binding for `home` (or `nai`): [`BindingTable::find`], through `hint`
    /// (the slot hint kept with `home`'s association, [`HomeAgent::lookup_sa_at`]) when there
    /// is one; the slot found is kept in it for the next lookup.
    pub(super) fn find_binding(
        &self,
        hint: Option<&SlotHint>,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> Option<u32> {
        let Some(h) = hint else {
            return self.table.find(home, nai);
        };
        let slot = self.table.find_hinted(h.get(), home, nai);
        h.set(slot);
        slot
    }

    /// The binding a reply about `home` (or `nai`) is for, and the association
    /// [`HomeAgent::lookup_sa_ref`] finds for that binding's home address and NAI (its NAI, else
    /// `nai`): [`HomeAgent::find_binding`] through the slot hint kept with `home`'s
    /// association, and that association itself when the binding's home address is `home` (it
    /// is then what `lookup_sa_ref` would find first), without a second lookup.
    pub(super) fn reply_binding(
        &self,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
    ) -> Option<(u32, Option<&MnSa>)> {
        let by_home = if home.is_unspecified() {
            None
        } else {
            self.sas.home_hinted(home)
        };
        let slot = self.find_binding(by_home.map(|(_, h)| h), home, nai)?;
        let b = self.table.get(slot)?;
        let sa = match by_home {
            Some((sa, _)) if b.home_address == home => Some(sa),
            _ => self.lookup_sa_ref(b.home_address, b.nai().or(nai)),
        };
        Some((slot, sa))
    }

    /// Whether every identity a request names belongs to the mobile node `sa` authenticated:
    /// the home address and the NAI when a key is configured for them, and the binding the
    /// request would change (RFC 5944 section 3.8.2.1: the home agent acts for the mobile node
    /// that authenticated, RFC 2794 section 2: the NAI identifies it).
    /// `slot`: the binding [`BindingTable::find`] finds for `home` and `nai` (looked up by the
    /// caller, which keeps it). `sa_is_homes`: `sa` is the association configured for `home`
    /// ([`HomeAgent::lookup_sa_at`] found it by that address): its owner is `sa`'s principal,
    /// not looked up again.
    pub(super) fn names_only(
        &self,
        sa: &MnSa,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        slot: Option<u32>,
        sa_is_homes: bool,
    ) -> bool {
        let mine = |id: MnId| self.principal_of(&id).is_none_or(|o| o == sa.principal);
        // The home address's owner, looked up once (the binding's home address is most often
        // the same).
        let home_owner = if home.is_unspecified() {
            None
        } else if sa_is_homes {
            Some(sa.principal)
        } else {
            self.principal_of(&MnId::Home(home))
        };
        if home_owner.is_some_and(|o| o != sa.principal) {
            return false;
        }
        if let Some(n) = nai
            && !mine(MnId::Nai(n.into()))
        {
            return false;
        }
        let Some(b) = slot.and_then(|s| self.table.get(s)) else {
            return true;
        };
        let owner = if b.home_address.is_unspecified() {
            None
        } else if b.home_address == home {
            home_owner
        } else {
            self.principal_of(&MnId::Home(b.home_address))
        };
        let owner = owner.or_else(|| {
            b.nai()
                .and_then(|n| self.principal_of(&MnId::Nai(Box::from(n))))
        });
        owner.is_none_or(|o| o == sa.principal)
    }

    /// The mobile node (principal) an identity's key belongs to: a configured key, else one
    /// from AAA.
    fn principal_of(&self, id: &MnId) -> Option<u32> {
        match self.sas.get(id) {
            Some(o) => Some(o.principal),
            None => self
                .aaa
                .as_ref()
                .and_then(|a| a.keys.get(id))
                .map(|h| h.sa.principal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    /// The type of a table's buckets.
    fn entry_size<T>(_: &[T]) -> (usize, usize) {
        (std::mem::size_of::<T>(), std::mem::align_of::<T>())
    }

    #[test]
    fn associations_are_held_in_the_table_entries_compactly() {
        let h = ha(1, Instant::now());
        // The association itself is in the index's entry (not behind a pointer to another
        // allocation) with its home address, in one 64-octet cache line: an SPI, the key's two
        // HMAC-MD5 pad states, the principal, a flag.
        assert_eq!(entry_size(h.sas.by_home.0.buckets()), (64, 64));
        assert!(std::mem::size_of::<MnSa>() <= 56);
        // Each configured mobile node's association is found by its home address and keeps
        // its SPI and key (RFC 5944 section 3.5: the MN-HA association).
        for k in 1..=8 {
            let sa = h.lookup_sa(home(k), None).unwrap();
            assert_eq!(sa.spi, mn_sa(k).spi);
            assert_eq!(sa.key.compute(b"covered"), mn_sa(k).compute(b"covered"));
            assert!(!sa.from_aaa);
        }
    }

    /// The table by home address finds every association it holds and no other, through long
    /// probe runs (consecutive addresses, as a home network's; a table filled near two thirds,
    /// and ones grown from a capacity too small), wrapping from the last bucket to the first; an
    /// address configured twice keeps its last association and one entry, with its slot hint.
    #[test]
    fn the_table_by_home_address_finds_exactly_what_it_holds() {
        let hasher = Hasher::with_seed(7);
        let sa = |k: u32| MnSa {
            spi: 1000 + k,
            key: mn_sa(k % 8 + 1).prepare(),
            principal: k,
            from_aaa: false,
        };
        let addr = |k: u32| Ipv4Addr::from(0x0a05_0000 + k);
        for (capacity, n) in [(3000, 2900), (10, 3000), (0, 38)] {
            let mut t = ByHomeTable::with_capacity(capacity, &hasher);
            for k in 0..n {
                t.insert(addr(k), sa(k));
            }
            assert_eq!(t.0.len(), n as usize);
            assert!(t.0.len() * 3 <= t.0.buckets().len() * 2);
            // Three more addresses whose probe runs start at the last bucket: two of them
            // wrap to the first buckets.
            let last = t.0.buckets().len() - 1;
            let wrapping: Vec<u32> = (n + 3000..)
                .filter(|&k| t.0.home(&addr(k)) == last)
                .take(3)
                .collect();
            for &k in &wrapping {
                t.insert(addr(k), sa(k));
            }
            for &k in &wrapping {
                assert_eq!(t.find(addr(k)).unwrap().sa.spi, 1000 + k);
            }
            assert!(t.find(addr(n + 2999)).is_none());
            for k in 0..n {
                let e = t.find(addr(k)).unwrap();
                assert_eq!((e.home, e.sa.spi, e.sa.principal), (addr(k), 1000 + k, k));
            }
            for k in n..n + 3000 {
                assert!(t.find(addr(k)).is_none());
            }
            assert!(t.find(Ipv4Addr::UNSPECIFIED).is_none());
            // Replaced: the new association, the same entry and slot hint.
            t.find(addr(5)).unwrap().slot.set(Some(77));
            let len = t.0.len();
            t.insert(addr(5), sa(n + 5));
            assert_eq!(t.0.len(), len);
            let e = t.find(addr(5)).unwrap();
            assert_eq!((e.sa.spi, e.slot.get()), (1005 + n, Some(77)));
        }
    }

    /// A request's binding is found through the slot kept with its home address's association,
    /// and a wrong slot there is never trusted: the request still changes its own mobile
    /// node's binding only (RFC 5944 section 3.8.2.1: the binding the request would change is
    /// the authenticated node's), the replay check reads that binding's identification (a copy
    /// is refused 133, section 5.7), and the slot kept is put right.
    #[test]
    fn a_wrong_slot_hint_is_never_trusted() {
        let t0 = Instant::now();
        let mut h = ha(1, t0);
        let vip = SocketAddr::V4(SocketAddrV4::new(VIP, PORT));
        let hint = |h: &HomeAgent, k: u32| h.sas.home_hinted(home(k)).unwrap().1.get();
        assert_eq!(hint(&h, 1), None);
        // First registrations (the new bindings' slots kept), then re-registrations.
        let mut i2 = 0;
        for s in 0..2 {
            let now = t0 + Duration::from_secs(s);
            let i = ntp(t0, now);
            i2 = i + 1;
            assert_eq!(h.handle_datagram(now, fa(), vip, &request(1, i)), Ok(()));
            assert_eq!(h.handle_datagram(now, fa(), vip, &request(2, i2)), Ok(()));
            let (s1, s2) = (h.table.find(home(1), None), h.table.find(home(2), None));
            assert!(s1.is_some() && s2.is_some() && s1 != s2);
            assert_eq!((hint(&h, 1), hint(&h, 2)), (s1, s2));
        }
        let (s1, s2) = (h.table.find(home(1), None), h.table.find(home(2), None));
        // Mobile node 1's association now names mobile node 2's binding.
        h.sas.home_hinted(home(1)).unwrap().1.set(s2);
        let now = t0 + Duration::from_secs(2);
        let i = ntp(t0, now);
        let rrq = request(1, i);
        assert_eq!(h.handle_datagram(now, fa(), vip, &rrq), Ok(()));
        let b1 = h.table.get(s1.unwrap()).unwrap();
        assert_eq!((b1.home_address, b1.identification), (home(1), i));
        let b2 = h.table.get(s2.unwrap()).unwrap();
        assert_eq!((b2.home_address, b2.identification), (home(2), i2));
        assert_eq!(hint(&h, 1), s1);
        // The same wrong slot again: a copy of the accepted request is a replay.
        h.sas.home_hinted(home(1)).unwrap().1.set(s2);
        assert_eq!(
            h.handle_datagram(now, fa(), vip, &rrq),
            Err(InputError::Refused(ReplyCode::IDENTIFICATION_MISMATCH))
        );
        assert_eq!(h.table.get(s2.unwrap()).unwrap().identification, i2);
    }
}
