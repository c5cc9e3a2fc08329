//! First-HA processing of the second HA's reply (RFC 5944 section 3.8.3): the pending request it
//! answers, the binding made permanent (with its tunnel) or removed, the reply relayed.

use super::super::tunnel::relayed_params;
use super::*;
use crate::mip::binding::TunnelParams;

impl HomeAgent {
    /// Whether the binding in `slot` holds the pending request a reply answers (RFC 5944
    /// section 3.8.3: the Identification's low 32 bits): one this HA relays, and after a
    /// relayed 133 only the same HA's answers.
    fn answers_pending(&self, slot: u32, p: &Reply, replier: Option<NodeId>) -> bool {
        self.table.get(slot).is_some_and(|b| {
            b.pending().is_some_and(|pe| {
                pe.first_ha == self.node
                    && replay::reply_matches(pe.identification, p.identification)
                    && match pe.stage {
                        PendingStage::Forwarded => true,
                        PendingStage::MismatchRelayed { by } => replier.is_none_or(|r| r == by),
                    }
            })
        })
    }

    /// First-HA processing of the second HA's reply.
    /// `replier`: the member that sent the reply, when known (layer 3, or a layer-2 frame with its
    /// link-layer source). It is the HA that served the request: if a request was forwarded twice
    /// (a duplicate, with the selection changed in between) it may not be the one the pending
    /// request names.
    /// `vouched`: it came in an authenticated cluster message (`Body::Relay`).
    pub(in crate::mip::home_agent) fn handle_reply(
        &mut self,
        now: Instant,
        data: &[u8],
        replier: Option<NodeId>,
        vouched: bool,
    ) -> Result<(), InputError> {
        self.reply_parsed(now, data, replier, vouched, None)
    }

    /// [`HomeAgent::handle_reply`], with `parsed` the [`Summary`] of `data` when the caller
    /// already parsed it (`batch.rs`).
    pub(in crate::mip::home_agent) fn reply_parsed(
        &mut self,
        now: Instant,
        data: &[u8],
        replier: Option<NodeId>,
        vouched: bool,
        parsed: Option<&Summary<'_>>,
    ) -> Result<(), InputError> {
        let here;
        let m = match parsed {
            Some(m) => m,
            None => {
                here = Summary::parse(data)?;
                &here
            }
        };
        let Header::Reply(p) = m.header else {
            return Err(InputError::UnmatchedReply);
        };
        // As for requests: an NAI the MN-HA authenticator does not cover is ignored.
        let nai = m.covered_nai();
        // The binding (through the slot hint kept with the home address's association) and
        // the association its mobile node's authenticator is checked with.
        let Some((slot, sa)) = self
            .reply_binding(p.home_address, nai)
            .filter(|&(s, _)| self.answers_pending(s, &p, replier))
        else {
            self.stats.unmatched_replies += 1;
            return Err(InputError::UnmatchedReply);
        };
        let Some(b) = self.table.get(slot) else {
            return Err(InputError::UnmatchedReply);
        };
        let Some(pe) = b.pending().cloned() else {
            return Err(InputError::UnmatchedReply);
        };
        let b_home = b.home_address;
        // A late reply to an older request (a network copy of it came after a newer
        // registration was accepted) ends the pending request but does not roll the binding back.
        let applies = p.code.is_accepted() && b.identification <= pe.identification;
        // The reply must carry the mobile node's authenticator when it accepts (it changes the
        // binding), and a valid one whenever it carries one; an unauthenticated denial (134, 136)
        // is relayed, it only ends the pending request.
        let nai_b = b.nai().or(nai);
        let sa = sa.or_else(|| self.aaa_sa(b.home_address, nai_b).map(|h| &h.sa));
        let verified = match (m.mn_ha, sa) {
            (Some(x), Some(sa)) => self.verify_auth(&x, data, sa.spi, &sa.key),
            (None, _) => !p.code.is_accepted(),
            (Some(_), None) => false,
        };
        // Keys from AAA: without the mobile node's current key, the serving member's word, in
        // an authenticated cluster message, stands for it (`aaa.rs`).
        let auth_ok = verified
            || (vouched
                && self.aaa.is_some()
                && m.mn_ha.is_some()
                && sa.is_none_or(|s| s.from_aaa));
        if !auth_ok {
            self.stats.unauthenticated_replies += 1;
            return Err(InputError::UnauthenticatedReply);
        }
        if applies && matches!(pe.stage, PendingStage::MismatchRelayed { .. }) {
            self.stats.superseded_refusals += 1;
        }
        if applies && p.lifetime > 0 {
            let server = replier.unwrap_or(pe.second_ha);
            self.make_permanent(now, slot, &p, nai, &pe, server);
        } else if applies {
            self.deregistered_there(now, slot, &pe, b_home);
        } else if p.code == ReplyCode::IDENTIFICATION_MISMATCH {
            // Relayed, but the pending request stays until its timer: this 133 may answer a
            // network copy of a request the same HA accepts (RFC 5944 sections 3.8.3, 5.7), and
            // the mobile node's next request goes to the same HA.
            let by = replier.unwrap_or(pe.second_ha);
            let _ = self.table.update(slot, |b| {
                if let Some(x) = b.pending_mut() {
                    x.stage = PendingStage::MismatchRelayed { by };
                }
            });
        } else {
            // Denied (or stale): the temporary part goes; a permanent binding stays as it was.
            let _ = self.table.update(slot, |b| b.set_pending(None));
            if self.table.get(slot).is_some_and(|b| b.care_of.is_empty())
                && let Some(b) = self.table.remove(slot)
            {
                self.replicate_remove(b.home_address, b.nai().map(Box::from));
            }
        }
        self.update_load();
        self.stats.relayed += 1;
        // RFC 5944 3.8.3.1: from the address and port the request was sent to.
        let src = Some(SocketAddr::V4(pe.reply_src));
        let payload = self.payload_of(data);
        self.push_transmit(Transmit {
            dst: pe.fa.into(),
            src,
            link_dst: None,
            payload,
        });
        Ok(())
    }

    /// The second HA accepted a registration: the binding becomes permanent here, served by
    /// `server`, its lifetime held to this HA's own `max_lifetime` too.
    fn make_permanent(
        &mut self,
        now: Instant,
        slot: u32,
        p: &Reply,
        nai: Option<&[u8]>,
        pe: &Pending,
        server: NodeId,
    ) {
        let left =
            (p.lifetime != LIFETIME_INFINITE).then(|| Duration::from_secs(u64::from(p.lifetime)));
        let coa = self.care_of_after(now, pe.care_of, self.bounded_left(left));
        let sim = pe.simultaneous && p.code == ReplyCode::ACCEPTED;
        let node = self.node;
        let max_sim = self.max_simultaneous;
        let vip = self.vip;
        let tunnel = pe.tunnel.as_ref().map_or(TunnelParams::plain(vip), |t| {
            relayed_params(t, p.home_address)
        });
        let kept = (tunnel != TunnelParams::plain(vip)).then_some(tunnel);
        let answered = self.table.update(slot, |b| {
            b.home_address = p.home_address;
            if let Some(n) = nai
                && b.nai() != Some(n)
            {
                b.set_nai(Some(n.into()));
            }
            b.first_ha = node;
            b.second_ha = server;
            b.fa = pe.fa;
            b.identification = pe.identification;
            if sim {
                b.care_of.retain(|c| c.address != coa.address);
                while b.care_of.len() >= max_sim || b.care_of.is_full() {
                    b.care_of.remove(0);
                }
                b.care_of.push(coa);
            } else {
                b.care_of.set_single(coa);
            }
            if b.tunnel_params() != kept.as_ref() {
                b.set_tunnel_params(kept);
            }
            // The answered request's heap block, kept for the next forwarded one.
            b.take_pending_block().1
        });
        self.spare(answered.ok().flatten().flatten());
        self.push_event(Event::BindingPermanent {
            home_address: p.home_address,
            lifetime: p.lifetime,
            second_ha: server,
            tunnel: tunnel.tunnel(p.home_address, pe.care_of),
        });
        self.replicate_slot(slot, now);
    }

    /// The second HA accepted a deregistration: the binding goes (or loses that care-of
    /// address) on this HA too.
    fn deregistered_there(&mut self, now: Instant, slot: u32, pe: &Pending, home: Ipv4Addr) {
        let all = pe.care_of == home || pe.care_of.is_unspecified();
        let _ = self.table.update(slot, |b| {
            if all {
                b.care_of.clear();
            } else {
                b.care_of.retain(|c| c.address != pe.care_of);
            }
            b.set_pending(None);
        });
        if self.table.get(slot).is_some_and(|b| b.care_of.is_empty()) {
            if let Some(b) = self.table.remove(slot) {
                self.replicate_remove(b.home_address, b.nai().map(Box::from));
            }
        } else {
            self.replicate_slot(slot, now);
        }
    }
}
