//! The home-address pool (RFC 5944 section 3.8.3.1: a mobile node registering with home address
//! 0.0.0.0 and an NAI, RFC 2794, is assigned one by its home agent).

use super::*;

/// The addresses this HA assigns: the configured network without its network and broadcast
/// addresses, walked round-robin, skipping those assigned and those bound.
#[derive(Debug)]
pub(super) struct HomePool {
    network: Option<Ipv4Network>,
    cursor: u32,
    allocated: HashSet<Ipv4Addr, Hasher>,
}

impl HomePool {
    pub(super) fn new(network: Option<Ipv4Network>, hasher: Hasher) -> HomePool {
        HomePool {
            network,
            cursor: 0,
            allocated: HashSet::with_hasher(hasher),
        }
    }

    /// The next free address: neither assigned nor `bound` (a binding holds it). `None` when
    /// there is no pool or it is exhausted (the caller refuses 130).
    pub(super) fn allocate(&mut self, bound: impl Fn(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
        let pool = self.network?;
        let size = pool.size();
        for _ in 0..size.min(1 << 20) {
            let i = self.cursor % size;
            self.cursor = self.cursor.wrapping_add(1);
            let a = pool.nth(i)?;
            if a == pool.network() || a == pool.broadcast() || self.allocated.contains(&a) {
                continue;
            }
            if bound(a) {
                continue;
            }
            self.allocated.insert(a);
            return Some(a);
        }
        None
    }

    /// `a` goes back to the pool (its binding ended, or another HA serves it now).
    pub(super) fn release(&mut self, a: &Ipv4Addr) {
        self.allocated.remove(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool assigns neither the network nor the broadcast address, nor an address assigned
    /// or bound; a released address is assigned again; an exhausted pool assigns nothing.
    #[test]
    fn the_pool_assigns_each_usable_address_once_until_released() {
        let mut p = HomePool::new(Some("10.9.0.0/30".parse().unwrap()), Hasher::with_seed(1));
        let (a1, a2) = (Ipv4Addr::new(10, 9, 0, 1), Ipv4Addr::new(10, 9, 0, 2));
        assert_eq!(p.allocate(|a| a == a1), Some(a2));
        assert_eq!(p.allocate(|_| false), Some(a1));
        assert_eq!(p.allocate(|_| false), None);
        p.release(&a2);
        assert_eq!(p.allocate(|_| false), Some(a2));
        let mut none = HomePool::new(None, Hasher::with_seed(1));
        assert_eq!(none.allocate(|_| false), None);
    }
}
