//! The route to the virtual network: advertising, withdrawing, the peers that announce it.

use super::*;

impl HomeAgent {
    /// The members (this HA included, when it advertises) that announce the virtual network and
    /// are Up.
    pub fn announcers(&self) -> Vec<NodeId> {
        let vip = IpAddr::V4(self.vip);
        self.members
            .keys()
            .copied()
            .filter(|n| {
                if *n == self.node {
                    self.advertising
                } else {
                    self.peer_state(*n) == NodeState::Up
                        && self.monitor.addresses(*n).contains(&vip)
                }
            })
            .collect()
    }

    /// Stops serving the virtual network: [`Event::WithdrawRoute`], and peers learn it from the
    /// heartbeats. Requests still arriving are served.
    pub fn withdraw(&mut self) {
        if self.advertising {
            self.advertising = false;
            self.monitor.set_addresses(&[]);
            self.push_event(Event::WithdrawRoute {
                prefix: IpNetwork::V4(self.network),
            });
        }
    }

    /// Serves the virtual network again: [`Event::AdvertiseRoute`].
    pub fn advertise(&mut self) {
        if !self.advertising {
            self.advertising = true;
            self.monitor.set_addresses(&[IpAddr::V4(self.vip)]);
            self.push_event(Event::AdvertiseRoute {
                prefix: IpNetwork::V4(self.network),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    fn events(ha: &mut HomeAgent) -> Vec<Event> {
        std::iter::from_fn(|| ha.poll_event()).collect()
    }

    /// "Each HA emits AdvertiseRoute / WithdrawRoute for the virtual network" and is among the
    /// announcers only while it advertises.
    #[test]
    fn withdraw_and_advertise_announce_the_virtual_network() {
        let t0 = Instant::now();
        let mut ha1 = ha(1, t0);
        let prefix = IpNetwork::V4("10.0.0.0/16".parse().unwrap());
        assert!(events(&mut ha1).contains(&Event::AdvertiseRoute { prefix }));
        assert_eq!(ha1.announcers(), vec![NodeId(1)]);
        ha1.withdraw();
        assert_eq!(events(&mut ha1), vec![Event::WithdrawRoute { prefix }]);
        assert!(ha1.announcers().is_empty());
        ha1.withdraw();
        assert!(events(&mut ha1).is_empty());
        ha1.advertise();
        assert_eq!(events(&mut ha1), vec![Event::AdvertiseRoute { prefix }]);
    }
}
