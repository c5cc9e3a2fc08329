//! The tunnels by the peer's address and Tunnel ID (an SCCRQ's retransmission finds the tunnel
//! it opened, RFC 2661 5.8), held as our Tunnel IDs only (memory per tunnel).
//!
//! The key of an indexed tunnel is its own `(peer, peer_header_id())`, read from the tunnel
//! table: the index stores two bytes per slot where a map of keys stored 40. The key is chosen
//! by the peer, so it is hashed with a keyed hasher (SipHash, random keys), never the cheap
//! [`super::IdHasher`]. A tunnel whose key changes is taken out before and put back after.

use super::{IdMap, Tunnel};
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;

/// Our Tunnel IDs by the peer's address and Tunnel ID (module docs).
#[derive(Debug, Default)]
pub(crate) struct PeerIndex {
    hasher: RandomState,
    table: HashTable<u16>,
}

/// The index key of a tunnel.
fn key_of(t: &Tunnel) -> (SocketAddr, u16) {
    (t.peer, t.peer_header_id())
}

impl PeerIndex {
    fn hash(&self, key: (SocketAddr, u16)) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The tunnel indexed under `key`.
    pub fn get(&self, tunnels: &IdMap<Box<Tunnel>>, key: (SocketAddr, u16)) -> Option<u16> {
        let eq = |tid: &u16| tunnels.get(tid).is_some_and(|t| key_of(t) == key);
        self.table.find(self.hash(key), eq).copied()
    }

    /// Indexes tunnel `tid` (already in `tunnels`) under its key, replacing the tunnel indexed
    /// under the same key, if any.
    pub fn insert(&mut self, tunnels: &IdMap<Box<Tunnel>>, tid: u16) {
        let Some(key) = tunnels.get(&tid).map(|t| key_of(t)) else {
            return;
        };
        let hasher = &self.hasher;
        let rehash = |id: &u16| tunnels.get(id).map_or(0, |t| hasher.hash_one(key_of(t)));
        let eq = |id: &u16| tunnels.get(id).is_some_and(|t| key_of(t) == key);
        match self.table.entry(hasher.hash_one(key), eq, rehash) {
            hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = tid,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(tid);
            }
        }
    }

    /// Takes tunnel `tid` out of the index, `key` being its key when it was indexed (nothing
    /// when it was not indexed).
    pub fn remove(&mut self, key: (SocketAddr, u16), tid: u16) {
        if let Ok(e) = self.table.find_entry(self.hash(key), |&id| id == tid) {
            e.remove();
        }
    }
}
