//! Security associations (RFC 5944 section 3.5): the mobile nodes' MN-HA keys, the foreign
//! agents' FA-HA keys, and which mobile node a request's identities belong to.

use super::*;

/// A mobile node's SPI and prepared key.
#[derive(Debug)]
pub(super) struct MnSa {
    pub(super) spi: u32,
    pub(super) key: PreparedKey,
    /// Which mobile node this is: configured identities (home address, NAI) with the same
    /// security association are one mobile node.
    pub(super) principal: u32,
    /// A key from AAA (`aaa.rs`), not configured.
    pub(super) from_aaa: bool,
}

/// The mobile nodes' security associations by identity.
pub(super) type MnSas = HashMap<MnId, Arc<MnSa>, Hasher>;
/// The foreign agents' security associations by address.
pub(super) type FaSas = HashMap<Ipv4Addr, MnSa, Hasher>;

/// The mobile nodes' security associations by identity, and the foreign agents' by address.
/// Configured identities with the same association (SPI, algorithm, key) are one mobile node.
pub(super) fn security_associations(cfg: &HomeAgentConfig, hasher: &Hasher) -> (MnSas, FaSas) {
    let mut sas = HashMap::with_capacity_and_hasher(cfg.mobile_nodes.len(), hasher.clone());
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
        sas.insert(k.id.clone(), Arc::new(sa));
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
    pub(super) fn lookup_sa(&self, home: Ipv4Addr, nai: Option<&[u8]>) -> Option<Arc<MnSa>> {
        if !home.is_unspecified()
            && let Some(sa) = self.sas.get(&MnId::Home(home))
        {
            return Some(sa.clone());
        }
        if let Some(n) = nai
            && let Some(sa) = self.sas.get(&MnId::Nai(n.into()))
        {
            return Some(sa.clone());
        }
        // A mobile node known by NAI that now uses its assigned home address.
        self.binding(home, nai)
            .and_then(|b| b.nai.as_ref())
            .and_then(|n| self.sas.get(&MnId::Nai(n.clone())))
            .cloned()
    }

    /// Whether every identity a request names belongs to the mobile node `sa` authenticated:
    /// the home address and the NAI when a key is configured for them, and the binding the
    /// request would change (RFC 5944 section 3.8.2.1: the home agent acts for the mobile node
    /// that authenticated, RFC 2794 section 2: the NAI identifies it).
    pub(super) fn names_only(&self, sa: &MnSa, home: Ipv4Addr, nai: Option<&[u8]>) -> bool {
        let mine = |id: MnId| self.principal_of(&id).is_none_or(|o| o == sa.principal);
        // The home address's owner, looked up once (the binding's home address is most often
        // the same).
        let home_owner = if home.is_unspecified() {
            None
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
        let Some(b) = self.table.find(home, nai).and_then(|s| self.table.get(s)) else {
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
            b.nai
                .as_ref()
                .and_then(|n| self.principal_of(&MnId::Nai(n.clone())))
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
