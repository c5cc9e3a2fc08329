//! The route to the virtual network (module docs of `mip`): [`Route`] owns whether this HA
//! advertises it and returns the [`Event`] a change makes; [`announcers`] is a function of the
//! members and their health. The Home Agent applies them (the heartbeats carry the addresses).

use super::*;

/// Whether this HA advertises the virtual network.
#[derive(Debug)]
pub(super) struct Route {
    prefix: IpNetwork,
    advertising: bool,
}

impl Route {
    /// A route advertised from the start.
    pub(super) fn new(network: Ipv4Network) -> Route {
        let prefix = IpNetwork::V4(network);
        Route {
            prefix,
            advertising: true,
        }
    }

    pub(super) fn is_advertising(&self) -> bool {
        self.advertising
    }

    /// The announcement of the current state: [`Event::AdvertiseRoute`] or
    /// [`Event::WithdrawRoute`].
    pub(super) fn announcement(&self) -> Event {
        let prefix = self.prefix;
        if self.advertising {
            Event::AdvertiseRoute { prefix }
        } else {
            Event::WithdrawRoute { prefix }
        }
    }

    /// Advertises (`true`) or withdraws the route: the announcement when that changes it.
    pub(super) fn set(&mut self, advertise: bool) -> Option<Event> {
        if self.advertising == advertise {
            return None;
        }
        self.advertising = advertise;
        Some(self.announcement())
    }
}

/// The members that announce the virtual network and are Up: this HA (`node`) when it
/// advertises, a peer when `announces` says so (Up, the virtual address in its heartbeats).
pub(super) fn announcers(
    members: &BTreeMap<NodeId, Member>,
    node: NodeId,
    advertising: bool,
    announces: impl Fn(NodeId) -> bool,
) -> Vec<NodeId> {
    members
        .keys()
        .copied()
        .filter(|n| {
            if *n == node {
                advertising
            } else {
                announces(*n)
            }
        })
        .collect()
}

impl HomeAgent {
    /// The members (this HA included, when it advertises) that announce the virtual network and
    /// are Up.
    pub fn announcers(&self) -> Vec<NodeId> {
        let vip = IpAddr::V4(self.vip);
        let advertising = self.route.is_advertising();
        announcers(&self.members, self.node, advertising, |n| {
            self.peer_state(n) == NodeState::Up && self.monitor.addresses(n).contains(&vip)
        })
    }

    /// Stops serving the virtual network: [`Event::WithdrawRoute`], and peers learn it from the
    /// heartbeats. Requests still arriving are served.
    pub fn withdraw(&mut self) {
        if let Some(e) = self.route.set(false) {
            self.monitor.set_addresses(&[]);
            self.push_event(e);
        }
    }

    /// Serves the virtual network again: [`Event::AdvertiseRoute`].
    pub fn advertise(&mut self) {
        if let Some(e) = self.route.set(true) {
            self.monitor.set_addresses(&[IpAddr::V4(self.vip)]);
            self.push_event(e);
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

    /// The announcers are the members that announce the virtual network and are Up: this HA
    /// only while it advertises.
    #[test]
    fn the_announcers_are_this_ha_while_it_advertises_and_the_announcing_peers() {
        let t0 = Instant::now();
        let ha1 = ha(1, t0);
        let peer_2 = |n: NodeId| n == NodeId(2);
        assert_eq!(
            announcers(&ha1.members, NodeId(1), true, peer_2),
            vec![NodeId(1), NodeId(2)]
        );
        assert_eq!(
            announcers(&ha1.members, NodeId(1), false, peer_2),
            vec![NodeId(2)]
        );
    }
}
