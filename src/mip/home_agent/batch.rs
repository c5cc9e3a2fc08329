//! Batch input ([`HomeAgent::handle_batch`]): the HMAC-MD5 authenticators of up to [`GROUP`]
//! (eight, sixteen where the build enables AVX2) registration messages computed at once, that many
//! (or eight, or four) lanes wide ([`crate::io::md5x`]).
//!
//! A batch is handled exactly as its datagrams fed one by one through
//! [`HomeAgent::handle_frame`]: the same checks in the same order, the same state, events,
//! datagrams, counters and results. Only where the MD5 work happens changes, in two places:
//!
//! * **Verification.** Before a group of up to [`GROUP`] datagrams is handled, a read-only pass
//!   guesses the key each MN-HA and FA-HA authenticator will be checked with (the configured
//!   key of the home address or NAI, the foreign agent's key; for a reply, the key of the
//!   binding it answers) and computes the expected authenticators of the whole group in one
//!   multi-lane pass. They are kept in a memo keyed by the covered octets (the batch's own
//!   borrowed buffers, unchanged while it is handled) and the key's HMAC pad states. When the
//!   one-by-one path then verifies an authenticator, a memo entry for the same octets and the same
//!   key is the value it would have computed; it is compared in constant time as before. A wrong
//!   guess (the state changed in between, a key from AAA) only misses the memo: the authenticator
//!   is computed alone. The memo is emptied after each group, so no address outlives its buffer.
//! * **Signing.** An accepting reply whose MN-HA (and FA-HA) keys are HMAC-MD5 and which leaves
//!   straight from this HA (not inside a cluster message, whose MAC covers it) is queued with its
//!   authenticators zeroed; after the group, they are computed for all such replies together
//!   (MN-HA first, then the FA-HA authenticators that cover them) and written into the queued
//!   datagrams, before the caller can poll them. A reply relayed in a cluster message is signed
//!   at once.
//!
//! Nothing is allocated per batch beyond what the one-by-one path allocates: the memo and the
//! queued signatures are fixed-size arrays.

use super::*;
use crate::io::HmacMd5Key;
use crate::io::md5x::{GROUP, Pads, hmac_md5_each};
use crate::mip::binding::TickAt;
use crate::mip::wire::AuthRef;
use crate::mip::wire::auth::AUTHENTICATOR_LEN as TAG;
use arrayvec::ArrayVec;

/// One datagram of a batch ([`HomeAgent::handle_batch`]): what [`HomeAgent::handle_frame`]
/// takes, and the result it returned, written by the batch.
#[derive(Debug)]
pub struct Datagram<'a> {
    /// The link-layer source, when the caller knows it (see [`HomeAgent::handle_frame`]).
    pub link_src: Option<MacAddr>,
    /// Where it came from.
    pub from: SocketAddr,
    /// The address it was sent to (the virtual address or this HA's own).
    pub to: SocketAddr,
    /// The UDP payload.
    pub data: &'a [u8],
    /// What handling it returned (`Ok(())` until it is handled).
    pub result: Result<(), InputError>,
}

impl<'a> Datagram<'a> {
    /// A datagram received from `from` at `to`, link-layer source unknown.
    pub fn new(from: SocketAddr, to: SocketAddr, data: &'a [u8]) -> Datagram<'a> {
        Datagram {
            link_src: None,
            from,
            to,
            data,
            result: Ok(()),
        }
    }

    /// The same datagram with its link-layer source.
    pub fn with_link_src(self, mac: MacAddr) -> Datagram<'a> {
        Datagram {
            link_src: Some(mac),
            ..self
        }
    }
}

/// Memo entries per group: an MN-HA and an FA-HA authenticator per datagram.
const MEMO: usize = 2 * GROUP;
/// Replies signed after a group (one per request, with room for the rare datagram that answers
/// twice; beyond, a reply is signed at once).
const DEFERRED: usize = 2 * GROUP;

/// An authenticator computed ahead: of the `len` octets at address `at`, under the key with
/// these pad states.
#[derive(Debug, Clone, Copy)]
struct Memo {
    at: usize,
    len: usize,
    pads: Pads,
    tag: [u8; TAG],
}

/// An authenticator left zeroed in a reply: at offset `at` (it covers the octets before it),
/// under the key with these pad states.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unsigned {
    at: usize,
    pads: Pads,
}

/// A reply queued with zeroed authenticators: the transmit at `index` in the queue, its octets.
#[derive(Debug)]
struct Deferred {
    index: usize,
    bytes: Vec<u8>,
    sigs: ArrayVec<Unsigned, 2>,
}

/// The batch's state inside the Home Agent (empty outside [`HomeAgent::handle_batch`]).
#[derive(Debug, Default)]
pub(super) struct Batch {
    active: bool,
    memo: ArrayVec<Memo, MEMO>,
    /// The batch's `now`, converted once for the registrations it handles (their replay checks'
    /// wall-clock time, their bindings' expiries), when it holds one.
    pub(super) clock: Option<(TickAt, NtpTime)>,
    /// The authenticators of the reply being built, left for later (`Signer`).
    unsigned: ArrayVec<Unsigned, 2>,
    deferred: ArrayVec<Deferred, DEFERRED>,
}

impl Batch {
    fn memo(&self, covered: &[u8], key: &HmacMd5Key) -> Option<[u8; TAG]> {
        let pads = key.pad_states();
        self.memo
            .iter()
            .find(|m| m.at == covered.as_ptr() as usize && m.len == covered.len() && m.pads == pads)
            .map(|m| m.tag)
    }
}

/// Writes a reply's authentication extensions: at once, or (in a batch, HMAC-MD5 keys, room
/// left) with the authenticator zeroed and noted for [`HomeAgent::push_reply`].
pub(super) struct Signer {
    defer: bool,
}

impl Signer {
    /// Appends an authentication extension of type `ext` for `spi` under `key`
    /// ([`append_auth_prepared`]'s octets once signed).
    pub(super) fn append(
        &self,
        batch: &mut Batch,
        bytes: &mut Vec<u8>,
        ext: ExtensionType,
        spi: u32,
        key: &PreparedKey,
    ) {
        match key.hmac_md5() {
            Some(h) if self.defer => {
                bytes.push(ext.0);
                bytes.push((4 + TAG) as u8);
                bytes.extend_from_slice(&spi.to_be_bytes());
                let at = bytes.len();
                bytes.extend_from_slice(&[0; TAG]);
                batch.unsigned.push(Unsigned {
                    at,
                    pads: h.pad_states(),
                });
            }
            _ => append_auth_prepared(bytes, ext, spi, key),
        }
    }
}

/// The summary of a registration request or reply (not a cluster message), if it parses.
#[cfg(test)]
fn registration(data: &[u8]) -> Option<Summary<'_>> {
    let mut s = None;
    registration_into(data, &mut s);
    s
}

/// [`registration`] written into `out` in place ([`Summary::parse_into`]).
fn registration_into<'a>(data: &'a [u8], out: &mut Option<Summary<'a>>) {
    if !matches!(data.first(), Some(&REQUEST_TYPE | &REPLY_TYPE))
        || cluster::is_cluster_message(data)
    {
        *out = None;
        return;
    }
    Summary::parse_into(data, out);
}

/// Computes the authenticators of `lanes` (key's pad states, covered octets), up to [`GROUP`]
/// at a time.
fn tags_of(lanes: &[(Pads, &[u8])], out: impl FnMut(usize, [u8; TAG])) {
    hmac_md5_each(lanes, out);
}

impl HomeAgent {
    /// Feeds a batch of datagrams received on port 434, as [`HomeAgent::handle_frame`] would
    /// one by one in order (each one's result in [`Datagram::result`]): the same state, events,
    /// datagrams and counters, for less CPU. The HMAC-MD5 authenticators of up to
    /// [`md5x::GROUP`](crate::io::md5x::GROUP) registration messages at a time (a build-dependent
    /// group: eight; sixteen where the build enables AVX2) are computed together
    /// ([`crate::io::md5x`]): the MN-HA
    /// and FA-HA authenticators of a group's requests and replies before it is handled (under
    /// the keys they will most likely be checked with; a wrong guess only costs the lane), and
    /// the authenticators of the accepting replies it sends straight out after it, written into
    /// the queued datagrams before this returns (a reply relayed inside a cluster message is
    /// signed at once). Allocates nothing beyond what the datagrams themselves need.
    pub fn handle_batch(&mut self, now: Instant, batch: &mut [Datagram<'_>]) {
        self.at = now;
        for group in batch.chunks_mut(GROUP) {
            self.batch.active = true;
            // Each registration message parsed once: the read-ahead and the handling share it.
            // Parsed straight into its place in the array (`Summary::parse_into`): built aside,
            // each summary was copied twice on its way in.
            let mut parsed: [Option<Summary<'_>>; GROUP] = [None; GROUP];
            for (p, d) in parsed.iter_mut().zip(group.iter()) {
                registration_into(d.data, p);
            }
            if self.batch.clock.is_none() && parsed.iter().any(Option::is_some) {
                self.batch.clock = Some((TickAt::new(now), self.ntp_at(now)));
            }
            self.precompute(group, &parsed);
            // By reference: a summary is some 200 octets, the group's some 1.5 kB.
            for (d, m) in group.iter_mut().zip(&parsed) {
                let m = m.as_ref();
                d.result = self.handle_frame_parsed(now, d.link_src, d.from, d.to, d.data, m);
            }
            self.flush_signatures();
            self.batch.memo.clear();
            self.batch.active = false;
        }
        self.batch.clock = None;
    }

    /// The expected MN-HA and FA-HA authenticators of a group's registration messages, under
    /// the keys they will most likely be checked with, into the memo.
    fn precompute(&mut self, group: &[Datagram<'_>], parsed: &[Option<Summary<'_>>]) {
        // The lanes (key's pad states, the octets the authenticator covers): the mobile nodes'
        // and the foreign agents', side by side in the one array the tags are computed from (a
        // memo entry is found by its octets and key, not by its place).
        let mut lanes: ArrayVec<(Pads, &[u8]), MEMO> = ArrayVec::new();
        // What the read-ahead of the requests' bindings read (kept, so it is not left out).
        let mut read = 0u64;
        // First, only the lookups of every request of the group, in two short passes (the
        // associations, then the bindings): each lookup's memory reads depend on one another,
        // but those of different requests do not, and in a short pass the processor issues
        // them all before the first returns.
        // A request's association is looked up once, here (the handling looks it up again,
        // after the state may have changed): kept by the request's index in the group, with
        // the slot hint of its home address's binding when it was found by that address.
        let mut request_sas: [Option<(&MnSa, Option<&SlotHint>)>; GROUP] = [None; GROUP];
        for (found, m) in request_sas.iter_mut().zip(parsed) {
            if let Some(m) = m
                && let Header::Request(q) = m.header
            {
                *found = self.lookup_sa_at(q.home_address, m.covered_nai());
                if let Some((sa, _)) = found {
                    read ^= u64::from(sa.spi);
                }
            }
        }
        for (m, found) in parsed.iter().zip(&request_sas) {
            if let Some(m) = m
                && let Header::Request(q) = m.header
            {
                let hint = found.and_then(|(_, h)| h).and_then(SlotHint::get);
                read ^= self.table.read_ahead(hint, q.home_address, m.covered_nai());
            }
        }
        for ((d, m), request_sa) in group.iter().zip(parsed).zip(request_sas) {
            let request_sa = request_sa.map(|(sa, _)| sa);
            let data = d.data;
            let Some(m) = m else {
                continue;
            };
            let nai = m.covered_nai();
            let sa = match m.header {
                Header::Request(_) => request_sa,
                Header::Reply(p) => self
                    .reply_binding(p.home_address, nai)
                    .and_then(|(_, sa)| sa),
            };
            let covered = |x: Option<AuthRef<'_>>, spi: u32| {
                x.filter(|x| x.spi == spi)
                    .and_then(|x| data.get(..x.covered_len))
            };
            // The rest of the association the handling reads (whose mobile node it is, whether
            // its key verifies), read ahead too.
            if let Some(sa) = sa {
                read ^= u64::from(sa.principal) ^ u64::from(sa.from_aaa);
            }
            if let Some(sa) = sa
                && let Some(h) = sa.key.hmac_md5()
                && let Some(c) = covered(m.mn_ha, sa.spi)
            {
                let _ = lanes.try_push((h.pad_states(), c));
            }
            if let Header::Request(_) = m.header
                && let Some(k) = self.fa_sas.get(&v4(d.from))
                && let Some(h) = k.key.hmac_md5()
                && let Some(c) = covered(m.fa_ha, k.spi)
            {
                let _ = lanes.try_push((h.pad_states(), c));
            }
        }
        std::hint::black_box(read);
        // Written in place (the memo is a kilobyte: no copy of it).
        let memo = &mut self.batch.memo;
        memo.clear();
        tags_of(&lanes, |i, tag| {
            if let Some((k, c)) = lanes.get(i) {
                let _ = memo.try_push(Memo {
                    at: c.as_ptr() as usize,
                    len: c.len(),
                    pads: *k,
                    tag,
                });
            }
        });
    }

    /// Whether the authenticator `x` of `data` verifies under the association `spi`, `key`:
    /// [`AuthRef::verify_prepared`], through the batch's memo when it holds the authenticator.
    pub(super) fn verify_auth(
        &self,
        x: &AuthRef<'_>,
        data: &[u8],
        spi: u32,
        key: &PreparedKey,
    ) -> bool {
        if x.spi == spi
            && let Some(h) = key.hmac_md5()
            && let Some(covered) = data.get(..x.covered_len)
            && let Some(tag) = self.batch.memo(covered, h)
        {
            return crate::io::ct_eq(&tag, x.authenticator);
        }
        x.verify_prepared(data, spi, key).is_ok()
    }

    /// How a reply under `mn` (and `fa`) is signed: later, in a batch with room for it and
    /// HMAC-MD5 keys; else at once.
    pub(super) fn signer(&self, mn: &PreparedKey, fa: Option<&PreparedKey>) -> Signer {
        let usable = |k: &PreparedKey| k.hmac_md5().is_some();
        Signer {
            defer: self.batch.active
                && !self.batch.deferred.is_full()
                && usable(mn)
                && fa.is_none_or(usable),
        }
    }

    /// The octets of a reply about to leave in a cluster message: its authenticators written
    /// now, if they were left for later.
    pub(super) fn sign_now(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        for u in std::mem::take(&mut self.batch.unsigned) {
            if let Some(covered) = bytes.get(..u.at) {
                let mut tag = [0; TAG];
                tags_of(&[(u.pads, covered)], |_, t| tag = t);
                if let Some(t) = bytes.get_mut(u.at..u.at + TAG) {
                    t.copy_from_slice(&tag);
                }
            }
        }
        bytes
    }

    /// Queues a reply `t` (its payload `bytes`): at once when signed, else with its payload
    /// written after the group ([`HomeAgent::flush_signatures`]).
    pub(super) fn push_reply(&mut self, mut t: Transmit, bytes: Vec<u8>) {
        if self.batch.unsigned.is_empty() {
            t.payload = self.reply_payload(bytes);
            self.push_transmit(t);
            return;
        }
        let sigs = std::mem::take(&mut self.batch.unsigned);
        if self.transmits.push(t) {
            let index = self.transmits.len() - 1;
            let d = Deferred { index, bytes, sigs };
            if let Err(e) = self.batch.deferred.try_push(d) {
                // No room (the signer checked): signed now.
                let d = e.element();
                self.batch.unsigned = d.sigs;
                let bytes = self.sign_now(d.bytes);
                let payload = self.reply_payload(bytes);
                if let Some(t) = self.transmits.get_mut(d.index) {
                    t.payload = payload;
                }
            }
        }
    }

    /// Writes the authenticators of the replies queued unsigned in this group, all computed
    /// together: the first of each reply (MN-HA), then the second (FA-HA, which covers the
    /// first).
    fn flush_signatures(&mut self) {
        if self.batch.deferred.is_empty() {
            return;
        }
        let deferred = &mut self.batch.deferred;
        for round in 0..2 {
            let mut tags: ArrayVec<[u8; TAG], DEFERRED> = ArrayVec::new();
            {
                let lanes: ArrayVec<(Pads, &[u8]), DEFERRED> = deferred
                    .iter()
                    .filter_map(|d| {
                        let u = d.sigs.get(round)?;
                        Some((u.pads, d.bytes.get(..u.at)?))
                    })
                    .collect();
                tags_of(&lanes, |_, t| tags.push(t));
            }
            // By reference (moved out, the half-kilobyte array was copied twice a group).
            let mut tags = tags.iter();
            for d in deferred.iter_mut() {
                let Some(u) = d.sigs.get(round) else {
                    continue;
                };
                if d.bytes.len() < u.at {
                    continue;
                }
                let (at, tag) = (u.at, tags.next());
                if let (Some(tag), Some(t)) = (tag, d.bytes.get_mut(at..at + TAG)) {
                    t.copy_from_slice(tag);
                }
            }
        }
        while let Some(d) = self.batch.deferred.pop() {
            let payload = self.reply_payload(d.bytes);
            if let Some(t) = self.transmits.get_mut(d.index) {
                t.payload = payload;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mip::wire::Request;
    use bytes::Bytes;
    use proptest::prelude::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const WALL: Duration = Duration::from_secs(1_700_000_000);
    const FA: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), PORT));

    fn member_addr(i: u32) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, i as u8), PORT))
    }

    fn mn_sa(k: u32) -> SecurityAssociation {
        SecurityAssociation::new(300 + k, AuthAlgorithm::HmacMd5, vec![k as u8 + 1; 16])
    }

    fn fa_sa() -> SecurityAssociation {
        SecurityAssociation::new(900, AuthAlgorithm::HmacMd5, b"fa-ha shared key".to_vec())
    }

    fn home(k: u32) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 7, k as u8 + 1)
    }

    /// Member `i` of a two-member cluster; `fa`: with an FA-HA association with the foreign agent.
    fn ha(i: u32, start: Instant, mode: ForwardMode, fa: bool) -> HomeAgent {
        let members = (1..=2)
            .map(|n| Member {
                node: NodeId(n),
                addr: member_addr(n),
                mac: MacAddr::local(n),
                backups: vec![NodeId(3 - n)],
            })
            .collect();
        let net = "10.0.0.0/16".parse().unwrap();
        let mut c = HomeAgentConfig::new(NodeId(i), VIP, net, members, b"batch cluster key");
        c.seed = crate::io::seed(u64::from(i));
        c.mode = mode;
        c.wall_clock = WALL;
        c.max_bindings = 6;
        c.max_pending = 4;
        if fa {
            c.foreign_agents = vec![(v4(FA), fa_sa())];
        }
        for k in 0..6 {
            c.mobile_nodes.push(MobileNodeKey {
                id: MnId::Home(home(k)),
                sa: mn_sa(k),
            });
        }
        HomeAgent::new(c, start).unwrap()
    }

    /// What one request of a round is.
    #[derive(Debug, Clone)]
    enum Ask {
        /// Mobile node `k` registers (lifetime 0: deregisters).
        Valid { k: u32, lifetime: u16 },
        /// Its MN-HA (or, with a foreign agent association, FA-HA) authenticator altered.
        Forged { k: u32, fa: bool },
        /// A request sent before, again.
        Replayed(usize),
        /// Octets that are no registration message.
        Junk(Vec<u8>),
    }

    #[derive(Debug, Clone)]
    enum Step {
        Round(Vec<Ask>),
        Wait(u16),
    }

    fn ask() -> impl Strategy<Value = Ask> {
        prop_oneof![
            4 => (0u32..6, prop_oneof![Just(0u16), Just(30), Just(600)])
                .prop_map(|(k, lifetime)| Ask::Valid { k, lifetime }),
            2 => (0u32..6, any::<bool>()).prop_map(|(k, fa)| Ask::Forged { k, fa }),
            2 => any::<usize>().prop_map(Ask::Replayed),
            1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Ask::Junk),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            // Up to two groups of `GROUP`: four-lane, eight-lane (and sixteen-lane) passes.
            4 => proptest::collection::vec(ask(), 1..2 * GROUP + 2).prop_map(Step::Round),
            1 => (0u16..3000).prop_map(Step::Wait),
        ]
    }

    /// Everything observable of a run: per-datagram results, datagrams to the foreign agent
    /// and between members, events and counters of both members, and their binding tables
    /// after each step.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        results: Vec<Result<(), InputError>>,
        sent: Vec<Sent>,
        events: Vec<(usize, Event)>,
        stats: Vec<HaStats>,
        tables: Vec<Vec<(u32, Binding)>>,
    }

    /// Runs `steps` on a fresh two-member cluster started at `start`, feeding every HA its
    /// datagrams batched or one by one.
    fn run(steps: &[Step], mode: ForwardMode, fa: bool, batched: bool, start: Instant) -> Seen {
        let mut h = [ha(1, start, mode, fa), ha(2, start, mode, fa)];
        let mut now = start;
        let mut seen = Seen::default();
        let mut sent_requests: Vec<Vec<u8>> = Vec::new();
        let mut id = 0u64;
        // Heartbeats: both Up.
        for _ in 0..2 {
            for x in h.iter_mut() {
                x.handle_timeout(now);
            }
            exchange(now, &mut h, Vec::new(), batched, &mut seen);
            now += Duration::from_millis(10);
        }
        for s in steps {
            match s {
                Step::Wait(ms) => {
                    now += Duration::from_millis(u64::from(*ms));
                    for x in h.iter_mut() {
                        x.handle_timeout(now);
                    }
                    exchange(now, &mut h, Vec::new(), batched, &mut seen);
                }
                Step::Round(asks) => {
                    let mut round = Vec::new();
                    for a in asks {
                        id += 1;
                        let ntp = NtpTime::from_unix(WALL + now.duration_since(start)).0 + id;
                        let build = |k: u32, lifetime: u16| {
                            let mn = mn_sa(k);
                            let b = Builder::request(Request {
                                lifetime,
                                home_address: home(k),
                                home_agent: VIP,
                                care_of: Ipv4Addr::new(198, 51, 100, 1),
                                identification: ntp,
                                ..Request::default()
                            })
                            .mn_ha_auth(&mn);
                            let sa = fa_sa();
                            if fa {
                                b.fa_ha_auth(&sa).to_vec()
                            } else {
                                b.to_vec()
                            }
                        };
                        let bytes = match a {
                            Ask::Valid { k, lifetime } => build(*k, *lifetime),
                            Ask::Forged { k, fa: at_fa } => {
                                let mut b = build(*k, 600);
                                let n = b.len();
                                // The last octet of the last authenticator, or of MN-HA's.
                                let i = if *at_fa || !fa { n - 1 } else { n - 23 };
                                b[i] ^= 0x40;
                                b
                            }
                            Ask::Replayed(i) if !sent_requests.is_empty() => {
                                sent_requests[i % sent_requests.len()].clone()
                            }
                            Ask::Replayed(_) => build(0, 600),
                            Ask::Junk(j) => j.clone(),
                        };
                        sent_requests.push(bytes.clone());
                        round.push((
                            FA,
                            SocketAddr::V4(SocketAddrV4::new(VIP, PORT)),
                            None,
                            bytes,
                        ));
                    }
                    exchange(now, &mut h, vec![(0, round)], batched, &mut seen);
                }
            }
            for (i, x) in h.iter_mut().enumerate() {
                while let Some(e) = x.poll_event() {
                    seen.events.push((i, e));
                }
            }
            // Both binding tables after each step (the care-of addresses' expiries to the
            // nanosecond, the pending requests, the identifications).
            for x in &h {
                let t = x.bindings().iter().map(|(s, b)| (s, b.clone())).collect();
                seen.tables.push(t);
            }
        }
        seen.stats = h.iter().map(HomeAgent::stats).collect();
        seen
    }

    /// A datagram between members as delivered: source, destination, link-layer source, octets.
    type Frame = (SocketAddr, SocketAddr, Option<MacAddr>, Vec<u8>);
    /// A datagram as sent: destination, source, link-layer destination, octets.
    type Sent = (SocketAddr, Option<SocketAddr>, Option<MacAddr>, Vec<u8>);

    /// Delivers `first` (datagrams for member `.0`), then every datagram the members send each
    /// other until none is left; records what leaves the cluster.
    fn exchange(
        now: Instant,
        h: &mut [HomeAgent; 2],
        first: Vec<(usize, Vec<Frame>)>,
        batched: bool,
        seen: &mut Seen,
    ) {
        let mut queue: VecDeque<(usize, Vec<Frame>)> = first.into();
        loop {
            while let Some((j, frames)) = queue.pop_front() {
                if batched {
                    let mut b: Vec<Datagram<'_>> = frames
                        .iter()
                        .map(|(from, to, mac, d)| Datagram {
                            link_src: *mac,
                            ..Datagram::new(*from, *to, d)
                        })
                        .collect();
                    h[j].handle_batch(now, &mut b);
                    seen.results.extend(b.into_iter().map(|d| d.result));
                } else {
                    for (from, to, mac, d) in &frames {
                        seen.results
                            .push(h[j].handle_frame(now, *mac, *from, *to, d));
                    }
                }
            }
            for (i, x) in h.iter_mut().enumerate() {
                let mut to: [Vec<Frame>; 2] = [vec![], vec![]];
                while let Some(t) = x.poll_transmit() {
                    let j = match t.link_dst {
                        Some(m) => usize::from(m == MacAddr::local(2)),
                        None if t.dst == member_addr(1) => 0,
                        None if t.dst == member_addr(2) => 1,
                        None => {
                            seen.sent
                                .push((t.dst, t.src, t.link_dst, t.payload.to_vec()));
                            continue;
                        }
                    };
                    seen.sent
                        .push((t.dst, t.src, t.link_dst, t.payload.to_vec()));
                    let from = t.src.unwrap_or(member_addr(i as u32 + 1));
                    let mac = Some(MacAddr::local(i as u32 + 1));
                    to[j].push((from, t.dst, mac, t.payload.to_vec()));
                }
                for (j, frames) in to.into_iter().enumerate() {
                    if !frames.is_empty() {
                        queue.push_back((j, frames));
                    }
                }
            }
            if queue.is_empty() {
                return;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A batch is handled as its datagrams one by one (`handle_batch`'s contract): random
        /// rounds of valid, forged (MN-HA or FA-HA, RFC 5944 section 3.8.2.1: 131, 132) and
        /// replayed (section 5.7: 133) requests and junk, relayed FA -> HA1 -> HA2 -> HA1 -> FA
        /// at layer 2 or 3, with and without an FA-HA association, give the same results,
        /// datagrams, events, counters and binding tables.
        #[test]
        fn batched_equals_one_by_one(
            steps in proptest::collection::vec(step(), 1..12),
            layer3 in any::<bool>(),
            fa in any::<bool>(),
        ) {
            let mode = if layer3 { ForwardMode::Layer3 } else { ForwardMode::Layer2 };
            // From the same instant: the binding tables' expiries are instants.
            let start = Instant::now();
            let one = run(&steps, mode, fa, false, start);
            let batch = run(&steps, mode, fa, true, start);
            prop_assert_eq!(&one.results, &batch.results);
            prop_assert_eq!(&one.sent, &batch.sent);
            prop_assert_eq!(&one.events, &batch.events);
            prop_assert_eq!(&one.stats, &batch.stats);
            prop_assert_eq!(&one.tables, &batch.tables);
        }
    }

    /// The batch's work is really shared: a group's authenticators are found in the memo
    /// (verification) and a group's replies are signed after it (the queued reply carries the
    /// right MN-HA authenticator, RFC 5944 section 3.5.1).
    #[test]
    fn a_group_verifies_from_the_memo_and_signs_after_it() {
        let start = Instant::now();
        let mut h = ha(2, start, ForwardMode::Layer2, false);
        let ntp = NtpTime::from_unix(WALL).0;
        let reqs: Vec<Vec<u8>> = (0..4)
            .map(|k| {
                Builder::request(Request {
                    lifetime: 600,
                    home_address: home(k),
                    home_agent: v4(member_addr(2)),
                    care_of: Ipv4Addr::new(198, 51, 100, 1),
                    identification: ntp + u64::from(k),
                    ..Request::default()
                })
                .mn_ha_auth(&mn_sa(k))
                .to_vec()
            })
            .collect();
        let group: Vec<Datagram<'_>> = reqs
            .iter()
            .map(|r| Datagram::new(FA, member_addr(2), r))
            .collect();
        h.batch.active = true;
        let parsed: Vec<_> = group.iter().map(|d| registration(d.data)).collect();
        h.precompute(&group, &parsed);
        assert_eq!(h.batch.memo.len(), 4);
        for (k, r) in reqs.iter().enumerate() {
            let m = Summary::parse(r).unwrap();
            let x = m.mn_ha.unwrap();
            let key = mn_sa(k as u32).prepare();
            let tag = h.batch.memo(&r[..x.covered_len], key.hmac_md5().unwrap());
            assert_eq!(tag, Some(key.compute(&r[..x.covered_len])));
        }
        h.batch = Batch::default();
        let mut group = group;
        h.handle_batch(start, &mut group);
        assert!(group.iter().all(|d| d.result.is_ok()), "{group:?}");
        let replies = drain_all(&mut h);
        assert_eq!(replies.len(), 4);
        for (k, t) in replies.iter().enumerate() {
            let m = Summary::parse(&t.payload).unwrap();
            let x = m.mn_ha.unwrap();
            let key = mn_sa(k as u32).prepare();
            assert_eq!(x.verify_prepared(&t.payload, 300 + k as u32, &key), Ok(()));
        }
    }

    /// A batched request's association table is read twice: once ahead of the group (the
    /// request's lane) and once by its admission (RFC 5944 section 3.8.2.1: the key that
    /// verifies it, found by the home address, is that address's owner), not again for the lane
    /// or for the owner.
    #[test]
    fn a_batched_request_reads_the_associations_twice() {
        let start = Instant::now();
        let mut h = ha(2, start, ForwardMode::Layer2, false);
        let ntp = NtpTime::from_unix(WALL).0;
        let reqs: Vec<Vec<u8>> = (0..GROUP as u32)
            .map(|k| {
                Builder::request(Request {
                    lifetime: 600,
                    home_address: home(k % 6),
                    home_agent: v4(member_addr(2)),
                    care_of: Ipv4Addr::new(198, 51, 100, 1),
                    identification: ntp + u64::from(k),
                    ..Request::default()
                })
                .mn_ha_auth(&mn_sa(k % 6))
                .to_vec()
            })
            .collect();
        let mut group: Vec<Datagram<'_>> = reqs
            .iter()
            .map(|r| Datagram::new(FA, member_addr(2), r))
            .collect();
        let before = h.sas.lookups.get();
        h.handle_batch(start, &mut group);
        assert!(group.iter().all(|d| d.result.is_ok()), "{group:?}");
        // And once more for each of the six mobile nodes' new bindings, whose slot is kept with
        // the association (`HomeAgent::insert_binding`).
        assert_eq!(h.sas.lookups.get() - before, 2 * GROUP as u64 + 6);
        // Every request answered, with its own mobile node's authenticator.
        let replies = drain_all(&mut h);
        assert_eq!(replies.len(), GROUP);
        for (k, t) in replies.iter().enumerate() {
            let m = Summary::parse(&t.payload).unwrap();
            let key = mn_sa(k as u32 % 6).prepare();
            let spi = 300 + k as u32 % 6;
            assert_eq!(
                m.mn_ha.unwrap().verify_prepared(&t.payload, spi, &key),
                Ok(())
            );
        }
    }

    /// The payloads an HA sends (forwarded requests, the second HA's replies, relayed replies)
    /// are copied into one kept buffer and cut from it, not allocated one by one: payloads cut
    /// one after another lie side by side, a payload still held is never written over by later
    /// ones, the first HA forwards the request and relays the second HA's reply unchanged, and
    /// every reply reaching the foreign agent accepts the request (code 0) under the mobile
    /// node's MN-HA authenticator (RFC 5944 sections 3.4, 3.5.1).
    #[test]
    fn payloads_are_cut_from_one_kept_buffer() {
        let start = Instant::now();
        let mode = ForwardMode::Layer2;
        let mut h = [ha(1, start, mode, false), ha(2, start, mode, false)];
        let mut now = start;
        let mut seen = Seen::default();
        for _ in 0..2 {
            for x in h.iter_mut() {
                x.handle_timeout(now);
            }
            exchange(now, &mut h, Vec::new(), true, &mut seen);
            now += Duration::from_millis(10);
        }
        let vip = SocketAddr::V4(SocketAddrV4::new(VIP, PORT));
        let mut held: Option<(Bytes, Vec<u8>)> = None;
        let (mut side_by_side, mut pairs, mut to_fa) = (0, 0, 0);
        for round in 0..40u64 {
            now += Duration::from_millis(5);
            let id = NtpTime::from_unix(WALL + now.duration_since(start)).0;
            // Four requests a group (the pending requests' bound), of the six mobile nodes.
            let reqs: Vec<Vec<u8>> = (0..4)
                .map(|i| {
                    let k = ((round * 4 + i) % 6) as u32;
                    Builder::request(Request {
                        lifetime: 600,
                        home_address: home(k),
                        home_agent: VIP,
                        care_of: Ipv4Addr::new(198, 51, 100, 1),
                        identification: id + i,
                        ..Request::default()
                    })
                    .mn_ha_auth(&mn_sa(k))
                    .to_vec()
                })
                .collect();
            // (to which HA, from, to, octets, whether from the other HA)
            type Frame = (usize, SocketAddr, SocketAddr, Vec<u8>, bool);
            let mut queue: Vec<Frame> = reqs
                .iter()
                .map(|r| (0, FA, vip, r.clone(), false))
                .collect();
            // Every payload of the round, held until its end.
            let mut kept: Vec<Bytes> = Vec::new();
            while !queue.is_empty() {
                let mut by: [Vec<Frame>; 2] = [vec![], vec![]];
                for f in queue.drain(..) {
                    by[f.0].push(f);
                }
                for (j, frames) in by.iter().enumerate() {
                    let mac = MacAddr::local(2 - j as u32);
                    let mut b: Vec<Datagram<'_>> = frames
                        .iter()
                        .map(|(_, from, to, d, member)| {
                            let d = Datagram::new(*from, *to, d);
                            if *member { d.with_link_src(mac) } else { d }
                        })
                        .collect();
                    h[j].handle_batch(now, &mut b);
                    assert!(b.iter().all(|d| d.result.is_ok()), "{b:?}");
                }
                for (i, x) in h.iter_mut().enumerate() {
                    let (out, cluster): (Vec<_>, Vec<_>) = drain_all(x)
                        .into_iter()
                        .partition(|t| t.dst == FA || t.link_dst.is_some());
                    for t in cluster {
                        let from = t.src.unwrap_or(member_addr(i as u32 + 1));
                        queue.push((1 - i, from, t.dst, t.payload.to_vec(), false));
                    }
                    // The registration messages, to the foreign agent or (layer 2) the other HA.
                    for w in out.windows(2) {
                        let (a, b) = (&w[0].payload, &w[1].payload);
                        let (a0, b0) = (a.as_ptr() as usize, b.as_ptr() as usize);
                        pairs += 1;
                        side_by_side += usize::from(a0 + a.len() == b0 || b0 + b.len() == a0);
                    }
                    for t in out {
                        if held.is_none() {
                            held = Some((t.payload.clone(), t.payload.to_vec()));
                        }
                        kept.push(t.payload.clone());
                        if t.dst == FA {
                            // The second HA's accepting reply, relayed unchanged.
                            to_fa += 1;
                            let m = Summary::parse(&t.payload).unwrap();
                            let Header::Reply(p) = m.header else {
                                panic!("not a reply: {t:?}");
                            };
                            assert_eq!(p.code, ReplyCode::ACCEPTED);
                            let k = u32::from(p.home_address.octets()[3]) - 1;
                            let key = mn_sa(k).prepare();
                            let x = m.mn_ha.unwrap();
                            assert_eq!(x.verify_prepared(&t.payload, 300 + k, &key), Ok(()));
                            continue;
                        }
                        if i == 0 {
                            // A forwarded request: the request's own octets.
                            assert!(reqs.iter().any(|r| r[..] == t.payload[..]), "{t:?}");
                        }
                        let from = t.src.unwrap_or(member_addr(i as u32 + 1));
                        queue.push((1 - i, from, t.dst, t.payload.to_vec(), true));
                    }
                }
            }
        }
        assert_eq!(to_fa, 40 * 4);
        // Cut from one buffer: side by side (a new buffer now and then, when one is used up).
        assert!(side_by_side * 10 >= pairs * 8, "{side_by_side} of {pairs}");
        // Held through 40 rounds of later payloads: unchanged.
        let (payload, octets) = held.unwrap();
        assert_eq!(payload[..], octets[..]);
    }

    fn drain_all(h: &mut HomeAgent) -> Vec<Transmit> {
        std::iter::from_fn(|| h.poll_transmit())
            .filter(|t| !crate::health::is_heartbeat(&t.payload))
            .collect()
    }
}
