//! First- and second-HA registration (RFC 5944 section 3.8); the home-address pool is
//! `pool.rs`, the layer-2 notices `notices.rs`.

use super::tunnel::{Plan, Report};
use super::*;
use crate::mip::binding::{Refresh, TunnelParams};
use crate::mip::wire::TunnelAsk;

/// The request being answered, with what any answer to it needs.
#[derive(Clone, Copy)]
pub(super) struct Asked<'a> {
    pub(super) now: Instant,
    /// Where the request came from and the answer goes: the foreign agent, or a co-located
    /// mobile node.
    pub(super) from: SocketAddr,
    pub(super) q: &'a Request,
    /// The first HA the answer goes back through (this HA serves it as second HA), if any.
    pub(super) relay: Option<NodeId>,
    /// The NAI the MN-HA authenticator covers (RFC 5944 section 3.5.1).
    pub(super) nai: Option<&'a [u8]>,
    /// RFC 4433: the home agent address an accepting reply to a dynamic-HA request names
    /// (`None`: the address the request was sent to).
    pub(super) assigned: Option<Ipv4Addr>,
    /// RFC 3543: the foreign agent's Revocation Support extension (with its I bit), when
    /// revocation is on and its FA-HA authenticator covers it.
    pub(super) revocation: Option<bool>,
    /// RFC 3519, RFC 6245: the authenticated tunnel extensions.
    pub(super) tunnel: TunnelAsk,
    /// The slot of the mobile node's binding ([`BindingTable::find`] by the request's home
    /// address and NAI) when the request's admission looked it up and the table has not changed
    /// since (`None`: not looked up; [`HomeAgent::forward`] and [`HomeAgent::serve`] look it up).
    pub(super) found: Option<Option<u32>>,
}

impl HomeAgent {
    /// Refuses `a` with `code` (RFC 5944 section 3.8.3.2), authenticated with `sa` when a
    /// mobile node's key verified the request.
    pub(super) fn refuse(
        &mut self,
        a: &Asked<'_>,
        code: ReplyCode,
        sa: Option<&MnSa>,
    ) -> InputError {
        let (q, now) = (a.q, a.now);
        // A request nobody proved (no MN-HA association verified it, or its foreign agent failed
        // FA-HA): its answer is rate-limited.
        let unproven = sa.is_none() || code == ReplyCode::FA_AUTH_FAILED;
        if unproven && !self.refusal_bucket.take(now) {
            self.stats.refusals_suppressed += 1;
            return InputError::Refused(code);
        }
        self.stats.refusals += 1;
        // RFC 5944 section 5.7: a 133 carries the HA's time in the high-order 32 bits.
        let identification = if code == ReplyCode::IDENTIFICATION_MISMATCH {
            replay::mismatch_identification(q.identification, self.ntp_now(now))
        } else {
            q.identification
        };
        // RFC 5944 section 3.8.2.1: a 136 reply names this HA's unicast (virtual) address, for
        // the mobile node to ask again there.
        let home_agent = if code == ReplyCode::UNKNOWN_HA_ADDRESS {
            self.vip
        } else {
            q.home_agent
        };
        let p = Reply {
            code,
            lifetime: 0,
            home_address: q.home_address,
            home_agent,
            identification,
        };
        let mut b = Builder::reply(p);
        if let Some(n) = a.nai {
            b = b.nai(n);
        }
        if let Some(sa) = sa {
            b = b.auth_prepared(ExtensionType::MN_HA_AUTH, sa.spi, &sa.key);
        }
        if let Some(fa) = self.fa_sas.get(&v4(a.from)) {
            b = b.auth_prepared(ExtensionType::FA_HA_AUTH, fa.spi, &fa.key);
        }
        let vouch = sa.is_some_and(|s| s.from_aaa);
        self.send_reply(a.from, b.to_vec(), a.relay, vouch);
        InputError::Refused(code)
    }

    /// `vouch`: authenticated with a key from AAA, which the first HA may not hold: relayed in
    /// an authenticated cluster message in layer-2 mode too (`aaa.rs`).
    pub(super) fn send_reply(
        &mut self,
        fa: SocketAddr,
        bytes: Vec<u8>,
        relay_via: Option<NodeId>,
        vouch: bool,
    ) {
        match relay_via {
            Some(first) if first != self.node => match self.mode {
                ForwardMode::Layer2 if !vouch => {
                    let mac = self.members.get(&first).map(|m| m.mac);
                    let t = Transmit::to(self.vip_sock(), ::bytes::Bytes::new());
                    self.push_reply(Transmit { link_dst: mac, ..t }, bytes);
                }
                ForwardMode::Layer2 | ForwardMode::Layer3 => {
                    let bytes = self.sign_now(bytes);
                    self.send_cluster(first, Body::Relay { reply: &bytes })
                }
            },
            _ => {
                let src = Some(self.reply_src);
                let t = Transmit {
                    src,
                    ..Transmit::to(fa, ::bytes::Bytes::new())
                };
                self.push_reply(t, bytes);
            }
        }
    }

    /// RFC 5944 sections 3.4 and 3.8.3.1: the reply's IP source and UDP source port are the
    /// request's destination address and port: this HA's own address when the request was sent
    /// there, the virtual address when it was sent there (on whatever port it came to), else
    /// (a request sent to another address, the home network's broadcast or a forwarded one) the
    /// virtual address on port 434.
    pub(super) fn set_reply_src(&mut self, to: SocketAddr) {
        let dst = v4(to);
        self.reply_src = if self.own_ip == Some(dst) || dst == self.vip {
            SocketAddr::V4(SocketAddrV4::new(dst, to.port()))
        } else {
            self.vip_sock()
        };
    }

    /// A request (RFC 5944 section 3.8.2), first or second HA. `forwarded_by`: the first HA,
    /// when this HA is the second HA for the request.
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        forwarded_by: Option<NodeId>,
    ) -> Result<(), InputError> {
        self.request_parsed(now, from, to, data, forwarded_by, None)
    }

    /// [`HomeAgent::handle_request`], with `parsed` the [`Summary`] of `data` when the caller
    /// already parsed it (`batch.rs`).
    pub(super) fn request_parsed(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        forwarded_by: Option<NodeId>,
        parsed: Option<&Summary<'_>>,
    ) -> Result<(), InputError> {
        self.set_reply_src(to);
        // One pass over the message, no allocation (the NAI and authenticators borrow `data`).
        let here;
        let m = match parsed {
            Some(m) => m,
            None => match Summary::parse(data) {
                Ok(m) => {
                    here = m;
                    &here
                }
                Err(e) => return Err(self.refuse_unparsable(now, from, data, forwarded_by, e)),
            },
        };
        let Header::Request(q) = m.header else {
            return Err(InputError::Refused(ReplyCode::POORLY_FORMED_REQUEST));
        };
        if forwarded_by.is_none() && !self.replaying {
            self.stats.requests += 1;
        }
        // Only what the MN-HA authenticator covers decides anything: an NAI after it is ignored.
        let nai = m.covered_nai();
        // One `Asked`, completed in place as the request goes (not rebuilt by struct update at
        // each step: some 130 octets copied each time).
        let mut a = Asked {
            now,
            from,
            q: &q,
            relay: forwarded_by,
            nai,
            assigned: None,
            revocation: None,
            tunnel: TunnelAsk::default(),
            found: None,
        };
        let (mn, sa, to_me, spi, found) = self.admit(&a, m, data)?;
        a.revocation = self.revocation_offer(from, data);
        // `admit` verified the FA-HA authenticator of a foreign agent with an association.
        a.tunnel = m.tunnel_ask(self.fa_sas.contains_key(&v4(from)));
        // RFC 4433: a request for dynamic HA assignment sent to this HA's own address (the
        // mobile node follows a redirect) is served here.
        let dynamic = dynamic::is_all_zero_one(q.home_agent);
        let to_me = to_me || (dynamic && self.is_own(to));
        // Layer 2: a request announced by a notice is ours to serve for its first HA.
        // (A notice is consumed even when the link-layer source already named the first HA.)
        let mut first = forwarded_by;
        if let Some(f) = self.notices.take(&mn, q.identification) {
            first = first.or(Some(f));
        }
        // No key (keys from AAA, `aaa.rs`): parked where it is authenticated, else forwarded.
        let Some(sa) = sa else {
            let by = first.or(to_me.then_some(self.node));
            if by.is_some() || dynamic {
                return self.park(&a, to, data, mn, spi, by);
            }
            return self.forward(&a, to, data, mn, None, spi);
        };
        // Nothing changed the table since `admit` looked the binding up: serving or forwarding
        // starts from its slot.
        if let Some(first) = first {
            a.relay = Some(first);
            a.found = found;
            return self.serve(&a, &sa);
        }
        // Addressed to this HA by its own address: it serves the request itself.
        if to_me {
            a.relay = Some(self.node);
            a.found = found;
            return self.serve(&a, &sa);
        }
        if dynamic {
            return self.assign(&a, to, data, mn, &sa);
        }
        a.found = found;
        self.forward(&a, to, data, mn, Some(&sa), spi)
    }

    /// First HA: the second HA is the binding's (if Up), else the least loaded member; a
    /// temporary binding, then the request forwarded unchanged.
    pub(super) fn forward(
        &mut self,
        a: &Asked<'_>,
        to: SocketAddr,
        data: &[u8],
        mn: MnId,
        sa: Option<&MnSa>,
        spi: u32,
    ) -> Result<(), InputError> {
        let (q, now, from) = (a.q, a.now, a.from);
        let slot = a
            .found
            .unwrap_or_else(|| self.table.find(q.home_address, a.nai));
        let existing = slot
            .and_then(|s| self.table.get(s))
            .map(|b| b.second_ha)
            .filter(|n| self.peer_state(*n) == NodeState::Up);
        let members = &self.members;
        let second = existing.unwrap_or_else(|| {
            self.monitor
                .select(Policy::LeastLoaded, &mut self.rng, |n| {
                    members.contains_key(&n)
                })
                .unwrap_or(self.node)
        });
        if second == self.node {
            let Some(sa) = sa else {
                return self.park(a, to, data, mn, spi, Some(self.node));
            };
            return self.serve(
                &Asked {
                    relay: Some(self.node),
                    ..*a
                },
                sa,
            );
        }
        // The tunnel the second HA will grant, decided under the same configuration: its
        // refusal is answered here, the same as the second HA's.
        let tunnel = match self.plan_tunnel(a) {
            Ok(p) => p.map(|p| p.params(q.home_address)),
            Err(code) => return Err(self.refuse(a, code, sa)),
        };
        let pending = Pending {
            fa: sock4(from),
            care_of: q.care_of,
            identification: q.identification,
            second_ha: second,
            deadline: now + self.pending_timeout,
            simultaneous: q.flags.simultaneous(),
            first_ha: self.node,
            stage: PendingStage::Forwarded,
            tunnel,
            reply_src: sock4(self.reply_src),
        };
        let res = self.hold_pending(slot, q.home_address, a.nai.map(Box::from), pending);
        let Ok(slot) = res else {
            return Err(self.refuse(a, ReplyCode::HA_INSUFFICIENT_RESOURCES, sa));
        };
        self.push_event(Event::TemporaryBinding {
            mn,
            second_ha: second,
        });
        self.replicate_slot(slot, now);
        self.stats.forwarded += 1;
        self.send_forward(a, to, data, second);
        Ok(())
    }

    /// The forwarded request on its way to `second` (layer 2: a notice first when configured).
    fn send_forward(&mut self, a: &Asked<'_>, to: SocketAddr, data: &[u8], second: NodeId) {
        let q = a.q;
        match self.mode {
            ForwardMode::Layer2 => {
                if self.notices_on {
                    let notice = Body::Notice {
                        home_address: q.home_address,
                        nai: a.nai,
                        identification: q.identification,
                    };
                    self.send_cluster(second, notice);
                }
                let mac = self.members.get(&second).map(|m| m.mac);
                let payload = self.payload_of(data);
                self.push_transmit(Transmit {
                    dst: SocketAddr::V4(SocketAddrV4::new(v4(to), PORT)),
                    src: Some(a.from),
                    link_dst: mac,
                    payload,
                });
            }
            ForwardMode::Layer3 => {
                let body = Body::Forward {
                    fa: a.from,
                    request: data,
                };
                self.send_cluster(second, body);
            }
        }
    }

    /// Second-HA processing (RFC 5944 section 3.8.3): replay protection, grant, bind, reply via
    /// the first HA (`a.relay`, this HA itself when it serves alone).
    pub(super) fn serve(&mut self, a: &Asked<'_>, sa: &MnSa) -> Result<(), InputError> {
        let (q, now) = (a.q, a.now);
        let slot = a
            .found
            .unwrap_or_else(|| self.table.find(q.home_address, a.nai));
        // The binding's last identification, or a deregistered one's (`retired.rs`).
        let last = slot
            .and_then(|s| self.table.get(s))
            .map(|b| b.identification)
            .filter(|i| *i != 0)
            .or_else(|| {
                let stale = self.stale_identification(now);
                self.retired.get(q.home_address, a.nai, stale)
            });
        if replay::check_timestamp(q.identification, self.ntp_now(now), last, self.tolerance)
            .is_err()
        {
            return Err(self.refuse(a, ReplyCode::IDENTIFICATION_MISMATCH, Some(sa)));
        }
        let plan = match self.plan_tunnel(a) {
            Ok(p) => p,
            Err(code) => return Err(self.refuse(a, code, Some(sa))),
        };
        self.stats.served += 1;
        let (home, granted, code) = match plan {
            None => (self.deregister(a, slot), 0, ReplyCode::ACCEPTED),
            Some(p) => self.grant(a, sa, slot, &p)?,
        };
        self.send_grant(a, sa, home, granted, code, plan.as_ref());
        Ok(())
    }

    /// Deregistration (lifetime 0, RFC 5944 section 3.8.3): of one care-of address, or of all
    /// (care-of = home address). Returns the home address to answer with.
    fn deregister(&mut self, a: &Asked<'_>, slot: Option<u32>) -> Ipv4Addr {
        let q = a.q;
        let all = q.care_of == q.home_address || q.care_of.is_unspecified();
        // The care-of address deregistered; `None`: all of them.
        let care_of = (!all).then_some(q.care_of);
        let Some(s) = slot else {
            // Held nowhere here: a member that serves it removes it (`apply.rs`).
            if !q.home_address.is_unspecified() {
                let nai = a.nai.map(Box::from);
                self.replicate_deregistered(q.home_address, nai, q.identification, care_of);
            }
            return q.home_address;
        };
        // When the binding's lifetime would have ended (`removed.rs`).
        let until = self.table.get(s).and_then(removed::lifetime_end);
        // The tunnels this HA served to the care-of addresses removed go (RFC 5944 section
        // 3.8.3, `Event::Deregistered`), as the table reports them: none when another member
        // serves the binding.
        let _ = self.table.update(s, |b| {
            if all {
                b.care_of.clear();
            } else {
                b.care_of.retain(|c| c.address != q.care_of);
            }
            b.identification = q.identification;
        });
        let Some(b) = self.table.get(s) else {
            return q.home_address;
        };
        let home = b.home_address;
        // Another member serves it (the first HA saw it Down for a while): there too the binding
        // goes, or that care-of address of it, with its tunnels, as the reply tells the mobile
        // node (`apply.rs`; RFC 5944 sections 3.8.3 and 3.6.1.3).
        let elsewhere = (b.second_ha != self.node).then(|| b.nai().map(Box::from));
        if b.care_of.is_empty() {
            self.retire(a.now, s, until);
            if let Some(nai) = elsewhere {
                self.replicate_deregistered(home, nai, q.identification, None);
            }
        } else if let Some(nai) = elsewhere {
            self.replicate_deregistered(home, nai, q.identification, care_of);
        } else {
            self.replicate_slot(s, a.now);
        }
        home
    }

    /// The binding in `slot`, deregistered at `now`, goes: its home address back to the pool,
    /// its last identification kept against replays (`retired.rs`), its removal replicated and
    /// remembered until `until` (`removed.rs`).
    pub(super) fn retire(&mut self, now: Instant, slot: u32, until: Option<Instant>) {
        if let Some(b) = self.table.remove(slot) {
            self.pool.release(&b.home_address);
            let stale = self.stale_identification(now);
            let nai = b.nai();
            let evicted = self
                .retired
                .insert(b.home_address, nai, b.identification, stale);
            self.stats.retired_evicted += evicted;
            self.remove_served(now, &b, until);
        }
    }

    /// The home address to grant: the request's, the binding's, or one from the pool (130 when
    /// it is exhausted).
    fn home_for(
        &mut self,
        a: &Asked<'_>,
        sa: &MnSa,
        slot: Option<u32>,
    ) -> Result<Ipv4Addr, InputError> {
        if !a.q.home_address.is_unspecified() {
            return Ok(a.q.home_address);
        }
        match slot.and_then(|s| self.table.get(s)).map(|b| b.home_address) {
            Some(h) if !h.is_unspecified() => Ok(h),
            // The home address AAA assigned (`aaa.rs`).
            _ if let Some(h) = self.aaa_home(a.nai) => Ok(h),
            _ => match self.pool.allocate(|h| self.table.find(h, None).is_some()) {
                Some(h) => Ok(h),
                None => Err(self.refuse(a, ReplyCode::HA_INSUFFICIENT_RESOURCES, Some(sa))),
            },
        }
    }

    /// A registration granted (RFC 5944 section 3.8.3.1): the lifetime bounded by
    /// `max_lifetime`, simultaneous bindings when asked and supported (code 1 when not; 135
    /// beyond `max_simultaneous`). Returns the home address, the lifetime and the code.
    fn grant(
        &mut self,
        a: &Asked<'_>,
        sa: &MnSa,
        slot: Option<u32>,
        plan: &Plan,
    ) -> Result<(Ipv4Addr, u16, ReplyCode), InputError> {
        let (q, now) = (a.q, a.now);
        let home = self.home_for(a, sa, slot)?;
        let granted = if self.max_lifetime == LIFETIME_INFINITE {
            q.lifetime
        } else {
            q.lifetime.min(self.max_lifetime)
        };
        let left = (granted != LIFETIME_INFINITE).then(|| Duration::from_secs(u64::from(granted)));
        let coa = self.care_of_after(now, q.care_of, left);
        let simultaneous = q.flags.simultaneous() && self.max_simultaneous > 1;
        let code = if q.flags.simultaneous() && self.max_simultaneous == 1 {
            ReplyCode::ACCEPTED_NO_SIMULTANEOUS
        } else {
            ReplyCode::ACCEPTED
        };
        if simultaneous
            && let Some(b) = slot.and_then(|s| self.table.get(s))
            && !b.care_of.contains(q.care_of)
            && (b.care_of.len() >= self.max_simultaneous || b.care_of.is_full())
        {
            return Err(self.refuse(a, ReplyCode::TOO_MANY_BINDINGS, Some(sa)));
        }
        let tunnel = plan.kept(home, self.vip);
        // What changed before is not this registration's to report.
        self.report_tunnels(Report::Moved);
        let Ok(s) = self.bind(a, slot, home, coa, simultaneous, tunnel) else {
            self.pool.release(&home);
            return Err(self.refuse(a, ReplyCode::HA_INSUFFICIENT_RESOURCES, Some(sa)));
        };
        // The table reports what the registration changed in the tunnels served here (RFC 5944
        // section 3.8.3): the tunnel to the care-of address registered, unless it was served
        // already as it is (a refresh); without the S bit the tunnels to the binding's other
        // care-of addresses, which it replaces (section 3.6.1.3); with it, those of a binding
        // another member served, which this HA serves now. A refresh, the common case, changes
        // nothing there and allocates nothing.
        let how = Report::Registration {
            care_of: q.care_of,
            lifetime: granted,
        };
        if !self.report_tunnels(how).registered
            && let Some(b) = self.table.get(s)
        {
            let tunnel = b.tunnel(self.vip, q.care_of);
            self.push_event(Event::Registered {
                home_address: home,
                care_of: q.care_of,
                lifetime: granted,
                tunnel,
                refresh: true,
            });
        }
        self.replicate_slot(s, now);
        self.update_load();
        Ok((home, granted, code))
    }

    /// Writes a granted registration into the table (in place: a re-registration allocates
    /// nothing); this HA serves it.
    fn bind(
        &mut self,
        a: &Asked<'_>,
        slot: Option<u32>,
        home: Ipv4Addr,
        coa: CareOf,
        simultaneous: bool,
        tunnel: Option<TunnelParams>,
    ) -> Result<u32, TableError> {
        let node = self.node;
        let first = a.relay.unwrap_or(node);
        let fa4 = sock4(a.from);
        let (identification, nai) = (a.q.identification, a.nai);
        // A re-registration at the binding's one care-of address, nothing else asked for (no
        // NAI, plain IP-in-IP), is a refresh: the table checks the binding is that.
        if let Some(s) = slot
            && nai.is_none()
            && tunnel.is_none()
        {
            let r = Refresh {
                home,
                second_ha: node,
                care_of: coa,
                first_ha: first,
                fa: fa4,
                identification,
            };
            if self.table.refresh(s, &r) {
                return Ok(s);
            }
        }
        let grant = |b: &mut Binding| {
            b.home_address = home;
            if let Some(n) = nai
                && b.nai() != Some(n)
            {
                b.set_nai(Some(n.into()));
            }
            b.first_ha = first;
            b.second_ha = node;
            b.fa = fa4;
            b.identification = identification;
            if simultaneous {
                b.care_of.upsert(coa);
            } else {
                b.care_of.set_single(coa);
            }
            if first == node {
                b.set_pending(None);
            }
            if b.tunnel_params() != tunnel.as_ref() {
                b.set_tunnel_params(tunnel);
            }
        };
        match slot {
            Some(s) => self.table.update(s, grant).map(|_| s),
            None => {
                let mut b = Binding::new(home, first, node, fa4, identification);
                grant(&mut b);
                self.insert_binding(b)
            }
        }
    }

    /// The accepting reply (RFC 5944 section 3.4), written straight into one exactly sized
    /// buffer: MN-HA authentication, then FA-HA for a known foreign agent.
    fn send_grant(
        &mut self,
        a: &Asked<'_>,
        sa: &MnSa,
        home: Ipv4Addr,
        granted: u16,
        code: ReplyCode,
        plan: Option<&Plan>,
    ) {
        let q = a.q;
        let header = Header::Reply(Reply {
            code,
            lifetime: granted,
            home_address: home,
            home_agent: self.assigned_ha(a),
            identification: q.identification,
        });
        let nai_ext = a.nai.map(|n| Extension::Nai(Cow::Borrowed(n)));
        let revocation = (granted > 0)
            .then(|| self.revocation_accept(a, home))
            .flatten();
        let fa_sa = self.fa_sas.get(&v4(a.from));
        let auth_len = 6 + AUTHENTICATOR_LEN;
        let tunnel_exts = plan.map(|p| (p.reply_extensions(home), p.from_fa));
        let tunnel_len = tunnel_exts.as_ref().map_or(0, |(e, _)| {
            e.iter()
                .flatten()
                .map(Extension::encoded_len)
                .sum::<usize>()
        });
        let mut bytes = reply_buffer(
            &mut self.spare_replies,
            header.encoded_len()
                + nai_ext.as_ref().map_or(0, Extension::encoded_len)
                + tunnel_len
                + auth_len * (1 + usize::from(fa_sa.is_some())),
        );
        header.emit(&mut bytes);
        if let Some(e) = &nai_ext {
            e.emit(&mut bytes);
        }
        // RFC 3519 section 3.2, RFC 6245 section 3: the tunnel extensions where their request
        // counterparts were: before MN-HA (the mobile node's), or after it (the foreign agent's,
        // covered by FA-HA).
        let emit_tunnel = |bytes: &mut Vec<u8>, fa: bool| {
            if let Some((exts, from_fa)) = &tunnel_exts
                && *from_fa == fa
            {
                exts.iter().flatten().for_each(|e| e.emit(bytes));
            }
        };
        emit_tunnel(&mut bytes, false);
        // RFC 3543 section 3.2: to a co-located mobile node (no foreign agent association),
        // before MN-HA, which covers it; else after it (the FA strips what follows), covered by
        // FA-HA.
        let (rev_mn, rev_fa) = match revocation {
            Some(e) if fa_sa.is_none() => (Some(e), None),
            e => (None, e),
        };
        if let Some(e) = &rev_mn {
            e.emit(&mut bytes);
        }
        // In a batch the authenticators may be written after it (`batch.rs`).
        let sign = self.signer(&sa.key, fa_sa.map(|k| &k.key));
        let b = &mut self.batch;
        sign.append(b, &mut bytes, ExtensionType::MN_HA_AUTH, sa.spi, &sa.key);
        emit_tunnel(&mut bytes, true);
        if let Some(e) = &rev_fa {
            e.emit(&mut bytes);
        }
        if let Some(k) = fa_sa {
            sign.append(b, &mut bytes, ExtensionType::FA_HA_AUTH, k.spi, &k.key);
        }
        self.send_reply(
            a.from,
            bytes,
            Some(a.relay.unwrap_or(self.node)),
            sa.from_aaa,
        );
    }
}

mod relay;
#[cfg(test)]
mod tests;
