//! The route to the virtual network: advertising, withdrawing, the peers that announce it.

use super::*;

impl HomeAgent {
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

    /// A peer's last reported load (this HA's own for its own id).
    // ----- commands -----

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
