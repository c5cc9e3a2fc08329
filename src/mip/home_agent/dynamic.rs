//! Dynamic home agent assignment through the virtual HA (RFC 4433): a request whose Home Agent
//! field is the ALL-ZERO-ONE-ADDR (0.0.0.0 or 255.255.255.255) gets an HA chosen by load among
//! the members, served in the cluster or redirected, per [`DynamicHaPolicy`]. The Mobile IP twin
//! of L2TP's Error 9 (the contact LNS's redirect).

use super::register::Asked;
use super::*;

/// RFC 4433 section 3: the Home Agent field 0.0.0.0 or 255.255.255.255 (ALL-ZERO-ONE-ADDR) asks
/// for a home agent to be assigned.
pub(super) fn is_all_zero_one(a: Ipv4Addr) -> bool {
    a.is_unspecified() || a.is_broadcast()
}

impl HomeAgent {
    /// Whether `to` is this HA's own (unicast) address.
    pub(super) fn is_own(&self, to: SocketAddr) -> bool {
        self.members
            .get(&self.node)
            .is_some_and(|m| v4(m.addr) == v4(to))
    }

    /// The Home Agent field of an accepting reply: the request's, or for a dynamic-HA request the
    /// assigned HA (RFC 4433 section 3.2): the address chosen for it, else the address the
    /// request was sent to (this HA's own, or the virtual address).
    pub(super) fn assigned_ha(&self, a: &Asked<'_>) -> Ipv4Addr {
        if !is_all_zero_one(a.q.home_agent) {
            return a.q.home_agent;
        }
        a.assigned.unwrap_or_else(|| v4(self.reply_src))
    }

    /// First HA, a dynamic-HA request sent to the virtual address: the member that serves it is
    /// the binding's (if Up), else the least loaded one (health's load table, as for any new
    /// mobile node). [`DynamicHaPolicy::Serve`]: forwarded there, the reply names the virtual
    /// address. [`DynamicHaPolicy::Redirect`]: served here when this HA is the one, the reply
    /// naming its own address; else denied with 143 and a Redirected HA extension.
    pub(super) fn assign(
        &mut self,
        a: &Asked<'_>,
        to: SocketAddr,
        data: &[u8],
        mn: MnId,
        sa: &MnSa,
    ) -> Result<(), InputError> {
        self.stats.dynamic_ha_requests += 1;
        if self.dynamic_ha != DynamicHaPolicy::Redirect {
            return self.forward(a, to, data, mn, Some(sa), 0);
        }
        let chosen = self.choose_ha(a);
        if chosen == self.node {
            let own = self.own_ip;
            self.push_event(Event::HomeAgentAssigned {
                mn,
                home_agent: own.unwrap_or(self.vip),
                redirected: false,
            });
            return self.serve(
                &Asked {
                    relay: Some(self.node),
                    assigned: own,
                    ..*a
                },
                sa,
            );
        }
        let Some(target) = self.members.get(&chosen).map(|m| v4(m.addr)) else {
            return Err(self.refuse(a, ReplyCode::HA_INSUFFICIENT_RESOURCES, Some(sa)));
        };
        self.stats.dynamic_ha_redirects += 1;
        self.push_event(Event::HomeAgentAssigned {
            mn,
            home_agent: target,
            redirected: true,
        });
        self.redirect(a, sa, target);
        Err(InputError::Refused(ReplyCode::REDIRECTED_HA))
    }

    /// The member a dynamic-HA request goes to: its binding's serving HA when Up, else the
    /// least loaded Up member (this HA included).
    fn choose_ha(&mut self, a: &Asked<'_>) -> NodeId {
        let existing = self
            .table
            .find(a.q.home_address, a.nai)
            .and_then(|s| self.table.get(s))
            .map(|b| b.second_ha)
            .filter(|n| self.peer_state(*n) == NodeState::Up);
        let members = &self.members;
        existing.unwrap_or_else(|| {
            self.monitor
                .select(Policy::LeastLoaded, &mut self.rng, |n| {
                    members.contains_key(&n)
                })
                .unwrap_or(self.node)
        })
    }

    /// RFC 4433 sections 3.3 and 4.2: the denial 143 (register with the redirected HA) with the
    /// Redirected HA extension (type 139, subtype 2) naming `target`, before the MN-HA
    /// authentication extension so the authenticator covers it; FA-HA last for a known foreign
    /// agent. Lifetime 0; the Home Agent field names the HA the request was sent to.
    fn redirect(&mut self, a: &Asked<'_>, sa: &MnSa, target: Ipv4Addr) {
        let q = a.q;
        self.stats.refusals += 1;
        let mut b = Builder::reply(Reply {
            code: ReplyCode::REDIRECTED_HA,
            lifetime: 0,
            home_address: q.home_address,
            home_agent: v4(self.reply_src),
            identification: q.identification,
        });
        if let Some(n) = a.nai {
            b = b.nai(n);
        }
        b = b.extension(Extension::DynamicHa {
            subtype: crate::mip::wire::DYNAMIC_HA_REDIRECTED,
            home_agent: target,
        });
        b = b.auth_prepared(ExtensionType::MN_HA_AUTH, sa.spi, &sa.key);
        if let Some(fa) = self.fa_sas.get(&v4(a.from)) {
            b = b.auth_prepared(ExtensionType::FA_HA_AUTH, fa.spi, &fa.key);
        }
        self.send_reply(a.from, b.to_vec(), None, false);
    }
}
