//! [`Tc`]: a [`RuleSet`] as `tc` command lines (iproute2 `tc filter`, `u32` and `flower`).

use super::{Action, Match, Rule, RuleError, RuleKey, RuleSet, Steer};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Renders a [`RuleSet`] as `tc` command lines for the ingress of one device.
///
/// The layout of the filters, all at one priority (`prio`) of the device's `ingress` qdisc
/// (create it with [`Tc::qdisc`]; a `clsact` qdisc serves too):
///
/// ```text
/// root list (the kernel's own hash table at this priority), in this order:
///   match u32 0 0 at 0                                            link <ht>:      UE prefixes
///   match ip protocol 17 0xff match u16 0 0x3fff at 6
///     offset at 0 mask 0x0f00 shift 6                             link <ht+1+2t>: target t
/// <ht>:      handle <ht>::<n>     match ip dst <prefix>           redirect | classid 1:1
/// <ht+1+2t>: handle <ht+1+2t>::<vid>  match u16 <port> 0xffff at nexthdr+2
///              match u8 <octet0> <mask> at nexthdr+8
///              match u32 <vid bits> <field mask> at nexthdr+<8+offset>   redirect | link <ht+2+2t>:
/// <ht+2+2t>: handle <ht+2+2t>::<vid>  match u32 <backup bits> <field mask> at nexthdr+<8+offset>
///                                                                  redirect
/// ```
///
/// IPv6 UE prefixes ([`RuleKey::UePrefix6`]) live at the next priority (`prio + 1`: a priority
/// holds filters of one protocol), `protocol ipv6`, in hash table `<ht+33>` (after the tables of
/// [`MAX_TARGETS`](super::MAX_TARGETS) targets), linked from that priority's root list:
///
/// ```text
/// prio+1 root list:  match u32 0 0 at 0                           link <ht+33>:
/// <ht+33>:   handle <ht+33>::<n>  match ip6 dst <prefix>          redirect | classid 1:1
/// ```
///
/// They are installed only for a rule set that has some ([`RuleSet::has_downlink_v6`]); a set
/// with them is torn down with [`Tc::teardown_set`].
///
/// `u32`'s `nexthdr+` offsets count from the UDP header, whose place the linking filter computes
/// from the IPv4 header length (`offset at 0 mask 0x0f00 shift 6`: IHL x 4 octets). A redirect
/// is `action mirred egress redirect dev <dev>`, `<dev>` being the device the caller maps the
/// processor's fabric address to ([`Tc::with_egress`]). Node handles come from the rule keys, so
/// an update touches exactly the nodes that change ([`Tc::update`]). Hash table ids
/// start at `ht` ([`Tc::with_tables`], default `0x100`): they are shared by every `u32` filter
/// of the qdisc, so each rule set on one qdisc needs its own range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc {
    dev: String,
    prio: u16,
    ht: u32,
    egress: BTreeMap<SocketAddr, String>,
}

/// A terminal match without an action: the classifier returns `TC_ACT_OK` and the packet
/// continues to the host. (Not `action pass`: that needs the `act_gact` module, which a kernel
/// may lack; the class id is ignored by an ingress or clsact qdisc.)
const PASS: &str = "classid 1:1";

/// The hash table of the IPv6 UE prefixes, after those of [`MAX_TARGETS`](super::MAX_TARGETS)
/// targets.
const V6_TABLE: u32 = 1 + 2 * super::MAX_TARGETS as u32;

/// A device name as the kernel takes it (IFNAMSIZ - 1 octets) and as one shell word.
pub(super) fn check_dev(dev: &str) -> Result<&str, RuleError> {
    let ok = !dev.is_empty()
        && dev.len() <= 15
        && dev
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if ok {
        Ok(dev)
    } else {
        Err(RuleError::BadDevice(dev.to_string()))
    }
}

impl Tc {
    /// For the ingress of `dev`, at priority `prio`.
    pub fn new(dev: &str, prio: u16) -> Tc {
        Tc {
            dev: dev.to_string(),
            prio,
            ht: 0x100,
            egress: BTreeMap::new(),
        }
    }

    /// Maps the processor at fabric address `processor` to the device `dev` its packets are
    /// redirected to.
    pub fn with_egress(mut self, processor: SocketAddr, dev: &str) -> Tc {
        self.egress.insert(processor, dev.to_string());
        self
    }

    /// The first of the `u32` hash table ids the rules use (1 + 2 per target).
    pub fn with_tables(mut self, first: u16) -> Tc {
        self.ht = u32::from(first);
        self
    }

    fn head(&self, verb: &str) -> Result<String, RuleError> {
        Ok(format!(
            "tc filter {verb} dev {} ingress prio {}",
            check_dev(&self.dev)?,
            self.prio
        ))
    }

    /// The head of the IPv6 downlink filters: the next priority.
    fn head6(&self, verb: &str) -> Result<String, RuleError> {
        Ok(format!(
            "tc filter {verb} dev {} ingress prio {}",
            check_dev(&self.dev)?,
            u32::from(self.prio) + 1
        ))
    }

    /// The head and the protocol of a rule's filter.
    fn head_of(&self, verb: &str, key: RuleKey) -> Result<(String, &'static str), RuleError> {
        match key {
            RuleKey::UePrefix6(_) => Ok((self.head6(verb)?, "ipv6")),
            _ => Ok((self.head(verb)?, "ip")),
        }
    }

    fn table(&self, n: u32) -> Result<u32, RuleError> {
        let id = self.ht + n;
        if id == 0 || id > 0x7ff {
            return Err(RuleError::TableSpace(id));
        }
        Ok(id)
    }

    /// The hash table a rule lives in, and its node id.
    fn place(&self, key: RuleKey) -> Result<(u32, u16), RuleError> {
        let (ht, node) = match key {
            RuleKey::UePrefix(n) => (self.table(0)?, n),
            RuleKey::UePrefix6(n) => (self.table(V6_TABLE)?, n),
            RuleKey::Primary { target, vid } => (self.table(1 + 2 * u32::from(target))?, vid.get()),
            RuleKey::Backup { target, vid } => (self.table(2 + 2 * u32::from(target))?, vid.get()),
        };
        if node > 0xfff {
            return match key {
                RuleKey::Primary { vid, .. } | RuleKey::Backup { vid, .. } => {
                    Err(RuleError::NodeSpace(vid))
                }
                RuleKey::UePrefix(_) | RuleKey::UePrefix6(_) => {
                    Err(RuleError::TooManyPrefixes(usize::from(node)))
                }
            };
        }
        Ok((ht, node))
    }

    fn redirect(&self, s: &Steer) -> Result<String, RuleError> {
        let dev = self
            .egress
            .get(&s.addr)
            .ok_or(RuleError::NoEgress(s.addr))?;
        Ok(format!(
            "action mirred egress redirect dev {}",
            check_dev(dev)?
        ))
    }

    /// `tc qdisc add dev <dev> ingress`, if the device has no ingress or clsact qdisc yet.
    pub fn qdisc(&self) -> Result<String, RuleError> {
        Ok(format!(
            "tc qdisc add dev {} ingress",
            check_dev(&self.dev)?
        ))
    }

    /// The hash tables and the root filters linking to them, for `set`'s targets.
    pub fn setup(&self, set: &RuleSet) -> Result<Vec<String>, RuleError> {
        let head = self.head("add")?;
        let n = u32::try_from(set.targets().len()).unwrap_or(u32::MAX);
        let mut lines = Vec::new();
        let mut tables = vec![self.table(0)?];
        for t in 0..n {
            tables.push(self.table(1 + 2 * t)?);
            tables.push(self.table(2 + 2 * t)?);
        }
        for ht in &tables {
            lines.push(format!("{head} protocol ip handle {ht:x}: u32 divisor 1"));
        }
        lines.push(format!(
            "{head} protocol ip u32 match u32 0 0 at 0 link {:x}:",
            self.table(0)?
        ));
        for t in 0..n {
            lines.push(format!(
                "{head} protocol ip u32 match ip protocol 17 0xff match u16 0 0x3fff at 6 \
                 offset at 0 mask 0x0f00 shift 6 link {:x}:",
                self.table(1 + 2 * t)?
            ));
        }
        if set.has_downlink_v6() {
            let head6 = self.head6("add")?;
            let ht6 = self.table(V6_TABLE)?;
            lines.push(format!(
                "{head6} protocol ipv6 handle {ht6:x}: u32 divisor 1"
            ));
            lines.push(format!(
                "{head6} protocol ipv6 u32 match u32 0 0 at 0 link {ht6:x}:"
            ));
        }
        Ok(lines)
    }

    /// The line adding one rule.
    pub fn add(&self, rule: &Rule) -> Result<String, RuleError> {
        self.filter("add", rule)
    }

    /// The line replacing the rule of the same key with `rule` (not between a link and an
    /// action: see [`Tc::update`]).
    pub fn replace(&self, rule: &Rule) -> Result<String, RuleError> {
        self.filter("replace", rule)
    }

    fn filter(&self, verb: &str, rule: &Rule) -> Result<String, RuleError> {
        let (ht, node) = self.place(rule.key)?;
        let matches = match (rule.key, rule.matcher) {
            (
                RuleKey::Primary { .. },
                Match::Id {
                    target,
                    value,
                    mask,
                },
            ) => format!(
                "match u16 {} 0xffff at nexthdr+2 match u8 {:#04x} {:#04x} at nexthdr+8 \
                 match u32 {value:#010x} {mask:#010x} at nexthdr+{}",
                target.port,
                target.octet0,
                target.octet0_mask,
                8 + u32::from(target.id_offset)
            ),
            (
                _,
                Match::Id {
                    target,
                    value,
                    mask,
                },
            ) => format!(
                "match u32 {value:#010x} {mask:#010x} at nexthdr+{}",
                8 + u32::from(target.id_offset)
            ),
            (_, Match::Destination(n)) => format!("match ip dst {}/{}", n.network(), n.prefix()),
            (_, Match::Destination6(n)) => {
                format!("match ip6 dst {}/{}", n.network(), n.prefix())
            }
        };
        let action = match (rule.action, rule.key) {
            (Action::Steer(s), _) => self.redirect(&s)?,
            (Action::Pass, _) => PASS.to_string(),
            (Action::Failover, RuleKey::Primary { target, .. }) => {
                format!("link {:x}:", self.table(2 + 2 * u32::from(target))?)
            }
            (Action::Failover, _) => PASS.to_string(),
        };
        let (head, protocol) = self.head_of(verb, rule.key)?;
        Ok(format!(
            "{head} protocol {protocol} handle {ht:x}::{node:x} u32 ht {ht:x}: {matches} {action}"
        ))
    }

    /// The line deleting one rule.
    pub fn del(&self, rule: &Rule) -> Result<String, RuleError> {
        let (ht, node) = self.place(rule.key)?;
        let (head, protocol) = self.head_of("del", rule.key)?;
        Ok(format!(
            "{head} handle {ht:x}::{node:x} protocol {protocol} u32"
        ))
    }

    /// Everything for `set` on a device with an ingress qdisc: [`Tc::setup`], then every rule.
    pub fn install(&self, set: &RuleSet) -> Result<Vec<String>, RuleError> {
        let mut lines = self.setup(set)?;
        for r in set.rules() {
            lines.push(self.add(r)?);
        }
        Ok(lines)
    }

    /// The lines taking the device from `old` (installed) to `new` ([`RuleSet::diff`]):
    /// deletions; changes, as `tc filter replace` (atomic), except where a rule becomes or stops
    /// being a link to the backup list (a replace keeps a `u32` link), deleted and added again;
    /// additions. When the targets changed, [`Tc::teardown`] and [`Tc::install`].
    pub fn update(&self, old: &RuleSet, new: &RuleSet) -> Result<Vec<String>, RuleError> {
        let diff = old.diff(new);
        if diff.targets_changed {
            let mut lines = self.teardown_set(old)?;
            lines.extend(self.install(new)?);
            return Ok(lines);
        }
        let mut lines = Vec::new();
        for r in &diff.removed {
            lines.push(self.del(r)?);
        }
        for (was, now) in &diff.changed {
            if was.action == Action::Failover || now.action == Action::Failover {
                lines.push(self.del(was)?);
                lines.push(self.add(now)?);
            } else {
                lines.push(self.replace(now)?);
            }
        }
        for r in &diff.added {
            lines.push(self.add(r)?);
        }
        Ok(lines)
    }

    /// `tc filter del dev <dev> ingress prio <prio>`: every filter and hash table of the rules.
    pub fn teardown(&self) -> Result<Vec<String>, RuleError> {
        Ok(vec![self.head("del")?])
    }

    /// [`Tc::teardown`] for the installed `set`, and `tc filter del dev <dev> ingress prio
    /// <prio + 1>` when it has IPv6 UE prefixes.
    pub fn teardown_set(&self, set: &RuleSet) -> Result<Vec<String>, RuleError> {
        let mut lines = self.teardown()?;
        if set.has_downlink_v6() {
            lines.push(self.head6("del")?);
        }
        Ok(lines)
    }

    /// The UE prefix rules of `set` as flower filters, for kernels with `cls_flower`: one
    /// priority per rule from `first_prio` on, in rule order (the IPv4 prefixes, then the IPv6
    /// ones, `protocol ipv6`), so the longest prefix is tried first (flower gives no order
    /// among the masks of one priority). Delete one with
    /// `tc filter del dev <dev> ingress prio <p>`. The uplink rules have no flower form (see the
    /// [module documentation](super)).
    pub fn flower_downlink(
        &self,
        set: &RuleSet,
        first_prio: u16,
    ) -> Result<Vec<String>, RuleError> {
        let dev = check_dev(&self.dev)?;
        let mut lines = Vec::new();
        let mut prio = u32::from(first_prio);
        for r in set.rules() {
            let (protocol, dst) = match r.matcher {
                Match::Destination(p) => ("ip", format!("{}/{}", p.network(), p.prefix())),
                Match::Destination6(p) => ("ipv6", format!("{}/{}", p.network(), p.prefix())),
                Match::Id { .. } => continue,
            };
            let p = u16::try_from(prio).map_err(|_| RuleError::TooManyPrefixes(lines.len() + 1))?;
            prio += 1;
            let action = match r.action {
                Action::Steer(s) => self.redirect(&s)?,
                _ => PASS.to_string(),
            };
            lines.push(format!(
                "tc filter add dev {dev} ingress prio {p} protocol {protocol} flower dst_ip {dst} {action}"
            ));
        }
        Ok(lines)
    }
}
