//! The tunnel a registration asks for (RFC 5944 section 3.8.3 M and G bits, RFC 3024 T bit,
//! RFC 3519 UDP Tunnel Request, RFC 6245 GRE Key) decided against this cluster's
//! [`TunnelConfig`]: the binding's [`Tunnel`], the reply's extensions, or the refusal code.

use super::register::Asked;
use super::*;
use crate::mip::binding::{
    BroadcastDelivery, Encapsulation, Tunnel, TunnelChange, TunnelParams, UdpInner,
};
use crate::mip::wire::{
    GRE_KEY_SUBTYPE, RequestFlags, TunnelAsk, UDP_TUNNEL_DECLINED, UDP_TUNNEL_F,
    UDP_TUNNEL_REPLY_F, UDP_TUNNEL_WILL_TUNNEL,
};

/// Whether this home agent offers reverse tunnels (RFC 3024).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum ReverseTunnelling {
    /// Not offered: a request with the T bit is denied 137 (requested reverse tunnel
    /// unavailable, RFC 3024 section 4.3).
    Off,
    /// Offered to the requests that set the T bit (the default).
    #[default]
    Allowed,
    /// Required: a request without the T bit is denied 138 (reverse tunnel is mandatory and 'T'
    /// bit not set, RFC 3024 section 4.3).
    Mandatory,
}

/// The tunnels a home agent offers. Every member of a cluster must be given the same (the first
/// HA decides a forwarded request's tunnel for its own event as the second HA does).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TunnelConfig {
    /// GRE (RFC 2784), asked for with the G bit or a GRE Key extension (RFC 6245). Default on.
    pub gre: bool,
    /// Minimal encapsulation (RFC 2004), asked for with the M bit. Default off (no Linux tunnel
    /// device implements it). A request for an encapsulation that is off is denied 139
    /// (requested encapsulation unavailable, RFC 3024 section 4.3 / RFC 5944 section 3.4).
    pub minimal: bool,
    /// Reverse tunnelling (RFC 3024). Default [`ReverseTunnelling::Allowed`].
    pub reverse: ReverseTunnelling,
    /// UDP tunnelling (RFC 3519). Off (the default): the UDP Tunnel Request extension is
    /// skipped as a home agent without RFC 3519 does, except one with the F flag, denied 142 (UDP
    /// encapsulation unavailable). On: a request with the extension from behind a NAT (the
    /// datagram's source address is not the care-of address) or with the F flag is answered
    /// with a UDP Tunnel Reply (code 0, [`TunnelConfig::udp_keepalive`]) and its binding tunnels
    /// over UDP to the NAT's address and port; without NAT and F, the reply declines (code 64).
    pub udp: bool,
    /// Keepalive interval announced in the UDP Tunnel Reply, seconds (RFC 3519 section 3.2;
    /// default 110, the RFC's default).
    pub udp_keepalive: u16,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            gre: true,
            minimal: false,
            reverse: ReverseTunnelling::Allowed,
            udp: false,
            udp_keepalive: 110,
        }
    }
}

/// The tunnel a request is granted, before the home address is known (a pool may assign it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Plan {
    params: TunnelParams,
    /// The UDP Tunnel Reply to send, if the request carried a UDP Tunnel Request acted on.
    udp_reply: Option<(u8, u16, u16)>,
    /// The request's GRE Key extension was acted on: the reply names this HA's key.
    gre_key: bool,
    /// The request's GRE key came in the 3GPP2 GRE Key CVSE: the reply echoes it there.
    gre_key_cvse: bool,
    /// The tunnel extensions came from the foreign agent (after the MN-HA extension).
    pub(super) from_fa: bool,
}

impl TunnelConfig {
    /// Decides the tunnel of a registration with `flags` and the authenticated extensions `ask`,
    /// received from `from` for `care_of`, the home agent's side at `local`; or the refusal code
    /// (RFC 3024 section 4.3: 137, 138, 139; RFC 3519 section 3.2: 142).
    pub(super) fn plan(
        &self,
        flags: RequestFlags,
        ask: TunnelAsk,
        from: SocketAddrV4,
        care_of: Ipv4Addr,
        local: Ipv4Addr,
    ) -> Result<Plan, ReplyCode> {
        let reverse = flags.has(RequestFlags::T);
        match (reverse, self.reverse) {
            (true, ReverseTunnelling::Off) => {
                return Err(ReplyCode::HA_REVERSE_TUNNEL_UNAVAILABLE);
            }
            (false, ReverseTunnelling::Mandatory) => {
                return Err(ReplyCode::HA_REVERSE_TUNNEL_MANDATORY);
            }
            _ => {}
        }
        let udp = match ask.udp {
            Some(u) if !self.udp && u.flags & UDP_TUNNEL_F != 0 => {
                return Err(ReplyCode::HA_UDP_ENCAPSULATION_UNAVAILABLE);
            }
            Some(u) if self.udp => Some(u),
            _ => None,
        };
        let mut udp_reply = None;
        let encapsulation = if let Some(u) = udp {
            let inner = UdpInner::from_protocol(u.encapsulation)
                .ok_or(ReplyCode::HA_ENCAPSULATION_UNAVAILABLE)?;
            self.offers(inner)?;
            let forced = u.flags & UDP_TUNNEL_F != 0;
            // RFC 3519 section 3.1: a NAT is detected when the request's source address is not
            // the care-of address; without one (and without F) no UDP tunnelling.
            if forced || *from.ip() != care_of {
                let f = if forced { UDP_TUNNEL_REPLY_F } else { 0 };
                udp_reply = Some((UDP_TUNNEL_WILL_TUNNEL, f, self.udp_keepalive));
                Some(Encapsulation::Udp {
                    inner,
                    peer: from,
                    keepalive: self.udp_keepalive,
                    forced,
                })
            } else {
                udp_reply = Some((UDP_TUNNEL_DECLINED, 0, 0));
                None
            }
        } else {
            None
        };
        let encapsulation = match encapsulation {
            Some(e) => e,
            None => self.by_flags(flags, ask.gre_key, ask.gre_key_cvse)?,
        };
        let gre_key = matches!(encapsulation, Encapsulation::Gre { okey: Some(_), .. });
        let gre_key_cvse = gre_key && ask.gre_key_cvse;
        let from_fa = ask.from_fa;
        Ok(Plan {
            params: TunnelParams {
                local,
                encapsulation,
                reverse,
                // RFC 5944 section 4.2.3: broadcasts only to a mobile node that set B.
                broadcast: BroadcastDelivery::from_flags(
                    flags.has(RequestFlags::B),
                    flags.has(RequestFlags::D),
                ),
            },
            udp_reply,
            gre_key,
            gre_key_cvse,
            from_fa,
        })
    }

    /// The encapsulation the flag octet (and a GRE key) asks for: G or a GRE key -> GRE, else
    /// M -> minimal, else IP-in-IP (RFC 5944 section 3.8.3). A key from the 3GPP2 GRE Key CVSE
    /// (`cvse`) names the tunnel both ways (X.S0011-003: the home agent echoes it and keys the
    /// packets it tunnels with it): it is also the input key.
    fn by_flags(
        &self,
        flags: RequestFlags,
        key: Option<u32>,
        cvse: bool,
    ) -> Result<Encapsulation, ReplyCode> {
        if flags.has(RequestFlags::G) || key.is_some() {
            self.offers(UdpInner::Gre)?;
            return Ok(Encapsulation::Gre {
                okey: key,
                ikey: key.filter(|_| cvse),
            });
        }
        if flags.has(RequestFlags::M) {
            self.offers(UdpInner::Minimal)?;
            return Ok(Encapsulation::Minimal);
        }
        Ok(Encapsulation::IpInIp)
    }

    /// Whether this home agent can serve a binding granted with `p` (by another member, before a
    /// takeover): its encapsulation is offered here, and its reverse tunnelling agrees with
    /// [`TunnelConfig::reverse`] (none under `Off`, one under `Mandatory`).
    pub(crate) fn serves(&self, p: &TunnelParams) -> bool {
        let encapsulation = match p.encapsulation {
            Encapsulation::IpInIp => true,
            Encapsulation::Minimal => self.minimal,
            Encapsulation::Gre { .. } => self.gre,
            Encapsulation::Udp { inner, .. } => self.udp && self.offers(inner).is_ok(),
        };
        let reverse = match self.reverse {
            ReverseTunnelling::Off => !p.reverse,
            ReverseTunnelling::Allowed => true,
            ReverseTunnelling::Mandatory => p.reverse,
        };
        encapsulation && reverse
    }

    fn offers(&self, e: UdpInner) -> Result<(), ReplyCode> {
        let ok = match e {
            UdpInner::Gre => self.gre,
            UdpInner::Minimal => self.minimal,
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(ReplyCode::HA_ENCAPSULATION_UNAVAILABLE)
        }
    }
}

/// The key a home agent asks to be written in the GRE packets tunnelled to it for the binding of
/// `home` (RFC 6245 section 3): the home address as a number, unique per binding in the home
/// network and the same on every member.
pub(super) fn own_gre_key(home: Ipv4Addr) -> u32 {
    u32::from(home)
}

impl Plan {
    /// The binding's parameters once the home address is known (this HA's GRE key set).
    pub(super) fn params(&self, home: Ipv4Addr) -> TunnelParams {
        relayed_params(&self.params, home)
    }

    /// The parameters as a binding keeps them: `None` for plain IP-in-IP from `vip`.
    pub(super) fn kept(&self, home: Ipv4Addr, vip: Ipv4Addr) -> Option<TunnelParams> {
        let p = self.params(home);
        (p != TunnelParams::plain(vip)).then_some(p)
    }

    /// The reply's tunnel extensions: the UDP Tunnel Reply (RFC 3519 section 3.2) and the GRE Key
    /// with this HA's key (RFC 6245 section 3), or the request's 3GPP2 GRE Key CVSE echoed
    /// (X.S0011-003).
    pub(super) fn reply_extensions(&self, home: Ipv4Addr) -> [Option<Extension<'static>>; 2] {
        let udp = self
            .udp_reply
            .map(|(code, flags, keepalive)| Extension::UdpTunnelReply {
                subtype: 0,
                code,
                flags,
                keepalive,
            });
        let gre = match self.params.encapsulation {
            Encapsulation::Gre { okey: Some(k), .. } if self.gre_key_cvse => {
                Some(Extension::GreKeyCvse {
                    reserved: 0,
                    key: k,
                })
            }
            _ => self.gre_key.then(|| Extension::GreKey {
                subtype: GRE_KEY_SUBTYPE,
                key: own_gre_key(home),
            }),
        };
        [udp, gre]
    }
}

/// The parameters a first HA records for a relayed registration once the reply names the home
/// address (this HA's GRE key is derived from it, as the second HA's reply derived it; a 3GPP2
/// CVSE key, already the input key, stays).
pub(super) fn relayed_params(t: &TunnelParams, home: Ipv4Addr) -> TunnelParams {
    let mut p = *t;
    if let Encapsulation::Gre {
        okey: Some(k),
        ikey: None,
    } = p.encapsulation
    {
        p.encapsulation = Encapsulation::Gre {
            okey: Some(k),
            ikey: Some(own_gre_key(home)),
        };
    }
    p
}

/// Which events report the binding table's tunnel changes ([`HomeAgent::report_tunnels`]):
/// what changed the table decides the event, the table alone what changed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Report {
    /// A tunnel removed: [`Event::Deregistered`]; added: [`Event::Registered`] with what is
    /// left of its care-of address's lifetime.
    Moved,
    /// Care-of addresses expired: [`Event::Expired`].
    Expired,
    /// A binding revoked (RFC 3543): [`Event::RegistrationRevoked`].
    Revoked {
        foreign_agent: Option<Ipv4Addr>,
        by_foreign_agent: bool,
    },
    /// A registration at `care_of` served here, granted `lifetime`: the tunnel added to it is
    /// its [`Event::Registered`] with that lifetime.
    Registration { care_of: Ipv4Addr, lifetime: u16 },
    /// A takeover step: the tunnels added are kept for its [`Event::TakenOver`]
    /// ([`HomeAgent::apply_effects`]).
    Takeover,
}

/// What [`HomeAgent::report_tunnels`] reported.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Reported {
    /// Tunnels removed.
    pub(super) removed: usize,
    /// [`Report::Registration`]: its care-of address's tunnel was added (not a refresh).
    pub(super) registered: bool,
}

/// What is left of a lifetime ending at `expires`, from `now`, in seconds (infinite:
/// `LIFETIME_INFINITE`).
pub(super) fn lifetime_left(now: Instant, expires: Option<Instant>) -> u16 {
    expires.map_or(LIFETIME_INFINITE, |e| {
        let left = e.saturating_duration_since(now).as_secs();
        u16::try_from(left).unwrap_or(LIFETIME_INFINITE - 1)
    })
}

impl HomeAgent {
    /// Reports the tunnels the binding table says came or went since the last report, as
    /// `how` says (one event per tunnel, in order). The one place tunnel events come from:
    /// every change of a binding reports its tunnels through the table, and whatever is not
    /// reported where it happens is reported as [`Report::Moved`] before the next event, or
    /// when the caller polls events.
    #[inline]
    pub(super) fn report_tunnels(&mut self, how: Report) -> Reported {
        if !self.table.has_tunnel_changes() {
            return Reported::default();
        }
        self.report_changes(how)
    }

    /// [`HomeAgent::report_tunnels`] when the table has changes to report.
    #[cold]
    #[inline(never)]
    fn report_changes(&mut self, how: Report) -> Reported {
        let mut out = Reported::default();
        let mut changes = std::mem::take(&mut self.tunnel_changes);
        self.table.take_tunnel_changes(&mut changes);
        for c in changes.drain(..) {
            let e = match (c, how) {
                (TunnelChange::Removed(tunnel), _) => {
                    out.removed += 1;
                    let home_address = tunnel.home_address;
                    match how {
                        Report::Expired => Event::Expired {
                            home_address,
                            tunnel,
                        },
                        Report::Revoked {
                            foreign_agent,
                            by_foreign_agent,
                        } => Event::RegistrationRevoked {
                            home_address,
                            tunnel: Some(tunnel),
                            foreign_agent,
                            by_foreign_agent,
                        },
                        _ => Event::Deregistered {
                            home_address,
                            tunnel,
                        },
                    }
                }
                (TunnelChange::Added { tunnel, expires }, Report::Takeover) => {
                    self.taken.push((tunnel, expires));
                    continue;
                }
                (TunnelChange::Added { tunnel, expires }, how) => {
                    let lifetime = match how {
                        Report::Registration { care_of, lifetime } if care_of == tunnel.care_of => {
                            out.registered = true;
                            lifetime
                        }
                        _ => lifetime_left(self.at, expires),
                    };
                    Event::Registered {
                        home_address: tunnel.home_address,
                        care_of: tunnel.care_of,
                        lifetime,
                        tunnel,
                        refresh: false,
                    }
                }
            };
            self.events.push(e);
        }
        self.tunnel_changes = changes;
        out
    }

    /// The tunnel of a registration (`None` for a deregistration, which asks for none), or the
    /// code refusing it.
    pub(super) fn plan_tunnel(&self, a: &Asked<'_>) -> Result<Option<Plan>, ReplyCode> {
        if a.q.lifetime == 0 {
            return Ok(None);
        }
        let local = v4(self.reply_src);
        self.tunnels
            .plan(a.q.flags, a.tunnel, sock4(a.from), a.q.care_of, local)
            .map(Some)
    }

    /// The tunnels of the bindings this HA serves, one per granted care-of address: exactly
    /// those the events told the caller to install and not yet to remove ([`Event::Registered`],
    /// [`Event::TakenOver`]; a caller starting afresh installs these). Bindings taken over with
    /// a tunnel this HA does not offer are left out (they await revocation,
    /// [`HomeAgentConfig::takeover_revocation_grace`]).
    pub fn served_tunnels(&self) -> impl Iterator<Item = Tunnel> + '_ {
        let vip = self.vip;
        self.table
            .iter()
            .map(|(_, b)| b)
            .filter(|b| self.table.serves(b))
            .flat_map(move |b| b.care_of.iter().map(move |c| b.tunnel(vip, c.address)))
    }

    /// The tunnel of the binding of `home_address` at `care_of`, if this HA holds it.
    pub fn tunnel(&self, home_address: Ipv4Addr, care_of: Ipv4Addr) -> Option<Tunnel> {
        let b = self
            .table
            .find(home_address, None)
            .and_then(|s| self.table.get(s))?;
        b.care_of
            .contains(care_of)
            .then(|| b.tunnel(self.vip, care_of))
    }
}
