//! Layer-2 notices (module docs of `mip`): a first HA that forwards a request at layer 2 to a
//! second HA that cannot see link-layer sources announces it in an authenticated
//! [`Body::Notice`]; the second HA serves the next request of that mobile node with that
//! identification for the first HA. [`Notices`] owns the announced requests, bounded and timed.

use super::*;

/// The table of notices is full (`max_pending`): the notice is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Full;

/// The notices this HA holds: (mobile node, identification) to the first HA, until a deadline.
#[derive(Debug)]
pub(super) struct Notices {
    by_request: HashMap<(MnId, u64), (NodeId, Instant), Hasher>,
    order: VecDeque<((MnId, u64), Instant)>,
    max: usize,
    /// How long a notice waits for its request (`pending_timeout`, as a temporary binding).
    hold: Duration,
}

impl Notices {
    pub(super) fn new(hasher: Hasher, max: usize, hold: Duration) -> Notices {
        Notices {
            by_request: HashMap::with_hasher(hasher),
            order: VecDeque::new(),
            max,
            hold,
        }
    }

    /// `first` announces the request `identification` of `mn`: held until `now` + the hold
    /// time. Refused when `max` notices are held.
    pub(super) fn insert(
        &mut self,
        now: Instant,
        mn: MnId,
        identification: u64,
        first: NodeId,
    ) -> Result<(), Full> {
        self.expire(now);
        if self.by_request.len() >= self.max {
            return Err(Full);
        }
        let deadline = now + self.hold;
        self.by_request
            .insert((mn.clone(), identification), (first, deadline));
        self.order.push_back(((mn, identification), deadline));
        Ok(())
    }

    /// The first HA that announced this request, if one did (the notice is consumed).
    pub(super) fn take(&mut self, mn: &MnId, identification: u64) -> Option<NodeId> {
        if self.by_request.is_empty() {
            return None;
        }
        let (first, _) = self.by_request.remove(&(mn.clone(), identification))?;
        Some(first)
    }

    /// Forgets the notices whose deadline passed.
    pub(super) fn expire(&mut self, now: Instant) {
        while let Some((k, d)) = self.order.front().cloned() {
            if d > now && self.order.len() <= self.max {
                break;
            }
            self.order.pop_front();
            if self.by_request.get(&k).is_some_and(|(_, dd)| *dd == d) {
                self.by_request.remove(&k);
            }
        }
    }

    /// The earliest deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.order.front().map(|(_, d)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mn(k: u8) -> MnId {
        MnId::Home(Ipv4Addr::new(10, 0, 1, k))
    }

    /// A notice names the first HA of exactly one request (mobile node and identification),
    /// once; it is bounded (`max_pending`) and waits no longer than a temporary binding.
    #[test]
    fn a_notice_names_the_first_ha_of_one_request_once_bounded_and_timed() {
        let t0 = Instant::now();
        let hold = Duration::from_secs(5);
        let mut n = Notices::new(Hasher::with_seed(1), 2, hold);
        n.insert(t0, mn(1), 7, NodeId(1)).unwrap();
        n.insert(t0, mn(2), 7, NodeId(3)).unwrap();
        assert_eq!(n.insert(t0, mn(3), 7, NodeId(1)), Err(Full));
        assert_eq!(n.take(&mn(1), 8), None);
        assert_eq!(n.take(&mn(1), 7), Some(NodeId(1)));
        assert_eq!(n.take(&mn(1), 7), None);
        assert_eq!(n.next_deadline(), Some(t0 + hold));
        n.expire(t0 + hold);
        assert_eq!(n.take(&mn(2), 7), None);
        n.insert(t0 + hold, mn(3), 7, NodeId(1)).unwrap();
    }
}
