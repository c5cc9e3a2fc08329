//! CP-allocated F-TEIDs over the steering gateway (issue 17 item 3, TS 29.244 Rel-15 section
//! 5.5.1 and 8.2.82), on the deterministic simulator with loss, duplication and reordering: the
//! switch processor advertises one User Plane IP Resource Information per (VID, backup VID)
//! pair of a 3+3-bit layout; the SMF allocates its uplink F-TEIDs itself inside those ranges;
//! each Session Establishment lands on the processor of its TEID's VID, uplink G-PDUs on those
//! TEIDs reach it, and after it fails, its backup (the TEID's backup VID). Layouts TEIDRI cannot
//! describe are refused at configuration time. Seeds: 70..74, or `STEERING_SWEEP=a..b` (plus
//! `STEERING_SEED`).

mod common;

use common::steering::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use telcp::health::{NodeId as HealthId, NodeState};
use telcp::sim::{NodeId, Sim};
use telcp::steering::fabric::VidState;
use telcp::steering::pfcp::teidri::{TeidriError, UpIpResourceInformation};
use telcp::steering::pfcp::{Cause, Ie, MessageType};
use telcp::steering::{ConfigError, LineInterface, SwitchProcessor, VidLayout, VirtualId};

const SMF_NODE: NodeId = NodeId(0);

fn teid_layout() -> VidLayout {
    VidLayout::teid32(3, 3).unwrap()
}

fn gateway(seed: u64, loss: f64) -> Gateway {
    let smf = Smf::new(SMF_IP.into(), sa(GW_IP, 8805));
    let shape = Shape {
        layout: teid_layout(),
        teid_ranges: true,
        ..Shape::default()
    };
    let mut gw = Gateway::with_shape(seed, loss, 1, ("smf", SMF_IP), Box::new(smf), shape);
    gw.sim.node_mut::<Smf>(SMF_NODE).n1 = 24;
    gw.sim.set_trace_limit(1_000_000);
    gw
}

fn smf(gw: &mut Gateway) -> &mut Smf {
    gw.sim.node_mut::<Smf>(SMF_NODE)
}

fn smf_ref(gw: &Gateway) -> &Smf {
    gw.sim.node::<Smf>(SMF_NODE)
}

fn run_until(gw: &mut Gateway, what: &str, done: impl Fn(&Smf) -> bool) {
    let ok = gw.sim.run_until_cond(
        Duration::from_millis(50),
        Duration::from_secs(30),
        |s: &mut Sim| done(s.node::<Smf>(SMF_NODE)),
    );
    assert!(ok, "{what}: not every request was answered");
}

/// Associates and returns the advertised ranges.
fn associate(gw: &mut Gateway) -> Vec<UpIpResourceInformation<'static>> {
    let now = gw.sim.now();
    smf(gw).associate(now);
    run_until(gw, "Association Setup", |s| s.association.is_some());
    let a = smf_ref(gw).association.clone().unwrap();
    assert_eq!(a.cause(), Some(Cause::REQUEST_ACCEPTED));
    a.ies
        .iter()
        .filter_map(|ie| match ie {
            Ie::UpIpResourceInformation(u) => Some(u.clone().into_owned()),
            _ => None,
        })
        .collect()
}

/// The (VID, backup VID) of a TEID of the test layout.
fn vids(teid: u32) -> (VirtualId, VirtualId) {
    let l = teid_layout();
    (l.primary(teid).unwrap(), l.backup(teid).unwrap())
}

fn per_proc(
    gw: &Gateway,
    f: impl Fn(&telcp::steering::processor::ProcessorStats) -> u64,
) -> BTreeMap<u32, u64> {
    PROCS
        .iter()
        .filter(|id| gw.sim.is_alive(gw.procs[id]))
        .map(|id| (*id, f(&gw.proc(*id).stats())))
        .collect()
}

/// The story for one seed: association with the ranges, `n` sessions with SMF-allocated
/// F-TEIDs spread over every range, uplink traffic, a processor failure, modification and
/// traffic again.
fn story(seed: u64, loss: f64, n: usize) {
    let mut gw = gateway(seed, loss);
    let ranges = associate(&mut gw);
    // One range per ordered pair of the four processors' VIDs (section 8.2.82: TEIDRI 6, the
    // VID then the backup VID), each at the gateway's IPv4 address.
    let held: BTreeSet<VirtualId> = PROCS.iter().map(|id| gw.proc(*id).vid().unwrap()).collect();
    let mut pairs = BTreeSet::new();
    for r in &ranges {
        assert_eq!(r.teidri, 6);
        assert_eq!(r.ipv4, Some(GW_IP.into()));
        assert_eq!(
            (r.ipv6, &r.network_instance, r.source_interface),
            (None, &None, None)
        );
        let (p, b) = vids(u32::from(r.teid_range) << 26);
        assert!(held.contains(&p) && held.contains(&b) && p != b, "{r:?}");
        assert!(pairs.insert((p, b)), "range {r:?} advertised twice");
    }
    assert_eq!(pairs.len(), PROCS.len() * (PROCS.len() - 1));
    // The SMF allocates TEID (range << 26) | local, local unique per range.
    let teids: Vec<u32> = (0..n)
        .map(|i| {
            let r = &ranges[i % ranges.len()];
            let teid = u32::from(r.teid_range) << 26 | (0x100 + i as u32);
            assert!(r.contains(teid));
            teid
        })
        .collect();
    for &t in &teids {
        let now = gw.sim.now();
        smf(&mut gw).establish_with_teid(now, t);
        gw.sim.run_for(Duration::from_millis(10));
    }
    run_until(&mut gw, "Session Establishment", |s| {
        s.sessions.iter().all(|x| x.established.is_some())
    });
    // A set-up whose TEID names a processor the switch processor does not see Up (a false
    // suspicion under loss) is refused with No resources available (75, TS 29.244 section
    // 8.2.1): that processor alone can serve the TEID the SMF chose. The SMF asks again once
    // every processor is Up (seeds 136, 699, 1,365, 2,754, 3,922 and 4,478 of 4,500); each
    // refusal is one the switch processor counted.
    let refused: Vec<usize> = (0..n)
        .filter(|i| smf_ref(&gw).sessions[*i].established != Some(Cause::REQUEST_ACCEPTED))
        .collect();
    if !refused.is_empty() {
        for &i in &refused {
            let s = &smf_ref(&gw).sessions[i];
            assert_eq!(s.established, Some(Cause::NO_RESOURCES_AVAILABLE), "{s:?}");
        }
        assert!(refused.len() as u64 <= gw.sp().stats().setups_refused);
        let up = gw
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
                let sp = s.node::<SwitchProcessor>(NodeId(2));
                PROCS
                    .iter()
                    .all(|&p| sp.processor_state(HealthId(p)) == Some(NodeState::Up))
            });
        assert!(up, "a processor never seen Up again");
        for &i in &refused {
            let now = gw.sim.now();
            smf(&mut gw).reestablish_with_teid(now, i);
        }
        run_until(&mut gw, "Session Establishment again", |s| {
            s.sessions.iter().all(|x| x.established.is_some())
        });
    }
    let seids = VidLayout::seid64(3, 3).unwrap();
    let sessions = smf_ref(&gw).sessions.clone();
    for (s, &t) in sessions.iter().zip(&teids) {
        assert_eq!(s.established, Some(Cause::REQUEST_ACCEPTED), "{s:?}");
        assert_eq!(s.up_teid, t);
        // The UP F-SEID carries the TEID's VIDs and local index.
        let (p, b) = vids(t);
        assert_eq!(seids.primary64(s.up_seid), Some(p));
        assert_eq!(seids.backup64(s.up_seid), Some(b));
        assert_eq!(seids.local64(s.up_seid), u64::from(teid_layout().local(t)));
        let holder = gw.proc_by_vid(p).unwrap();
        assert!(
            gw.proc(holder).has_session(t),
            "the TEID's processor holds it"
        );
    }
    gw.settle();
    for &t in &teids {
        let b = gw.proc_by_vid(vids(t).1).unwrap();
        assert!(
            gw.proc(b).has_session(t),
            "the backup VID's processor holds a copy"
        );
    }
    // Uplink: 3 G-PDUs per session reach the processor of the TEID's VID, nowhere else.
    let before = per_proc(&gw, |s| s.user_packets);
    for i in 0..n {
        for _ in 0..3 {
            smf(&mut gw).g_pdu(i);
        }
    }
    gw.sim.run_for(Duration::from_secs(1));
    let after = per_proc(&gw, |s| s.user_packets);
    let mut want: BTreeMap<u32, u64> = PROCS.iter().map(|id| (*id, 0)).collect();
    for &t in &teids {
        *want.get_mut(&gw.proc_by_vid(vids(t).0).unwrap()).unwrap() += 3;
    }
    for id in PROCS {
        let got = after[&id] - before[&id];
        if loss == 0.0 {
            assert_eq!(got, want[&id], "processor {id}: uplink G-PDUs");
        } else if want[&id] == 0 {
            assert_eq!(got, 0, "processor {id} got G-PDUs of no session of its");
        }
    }
    assert!(after.values().sum::<u64>() > before.values().sum::<u64>());
    // The primary of the first session fails: its sessions' G-PDUs go to their backups.
    let victim_vid = vids(teids[0]).0;
    let victim = gw.proc_by_vid(victim_vid).unwrap();
    gw.sim.crash(gw.procs[&victim]);
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(NodeId(1)).table().state(victim_vid) == Some(VidState::Down)
        });
    assert!(ok, "the failed processor was never marked down");
    let before = per_proc(&gw, |s| s.user_packets_backup);
    for (i, &t) in teids.iter().enumerate() {
        if vids(t).0 == victim_vid {
            for _ in 0..3 {
                smf(&mut gw).g_pdu(i);
            }
        }
    }
    gw.sim.run_for(Duration::from_secs(1));
    let after = per_proc(&gw, |s| s.user_packets_backup);
    let mut want: BTreeMap<u32, u64> = after.keys().map(|id| (*id, 0)).collect();
    for &t in teids.iter().filter(|t| vids(**t).0 == victim_vid) {
        *want.get_mut(&gw.proc_by_vid(vids(t).1).unwrap()).unwrap() += 3;
    }
    for (id, w) in &want {
        let got = after[id] - before[id];
        if loss == 0.0 {
            assert_eq!(got, *w, "backup {id}: uplink G-PDUs after the failure");
        } else if *w == 0 {
            assert_eq!(
                got, 0,
                "processor {id} backs up no session of the failed one"
            );
        }
    }
    // 0 sessions lost: every session is modified, by its primary or its backup.
    for i in 0..n {
        let now = gw.sim.now();
        smf(&mut gw).modify(now, i);
        gw.sim.run_for(Duration::from_millis(10));
    }
    run_until(&mut gw, "Session Modification", |s| {
        s.sessions.iter().all(|x| !x.modified.is_empty())
    });
    for s in &smf_ref(&gw).sessions {
        assert_eq!(
            s.modified,
            vec![Cause::REQUEST_ACCEPTED],
            "a session was lost: {s:?}"
        );
    }
    // The switch processor saw only node messages and Session Establishment Requests.
    for d in &gw.switch_inputs() {
        let m = telcp::steering::pfcp::parse(d).unwrap();
        let t = m.message_type();
        assert!(
            !t.is_session() || t == MessageType::SESSION_ESTABLISHMENT_REQUEST,
            "{t:?}"
        );
    }
}

/// Conformance: pfcp-8.2.82-upiri, pfcp-5.5.1-cp-teid.
#[test]
fn cp_allocated_teids_without_loss() {
    story(3, 0.0, 24);
}

#[test]
fn cp_allocated_teids_with_loss_over_many_seeds() {
    let range = std::env::var("STEERING_SWEEP")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
        })
        .unwrap_or(70..74);
    let mut failed = Vec::new();
    for seed in range.clone() {
        if std::panic::catch_unwind(|| story(seed, 0.05, 24)).is_err() {
            eprintln!("TEIDRI story failed for seed {seed} (plus STEERING_SEED)");
            failed.push(seed);
        }
    }
    assert!(
        failed.is_empty(),
        "TEIDRI story failed for seeds {failed:?} of {range:?}"
    );
}

/// Conformance: pfcp-5.5.1-cp-teid-refused. A CP-allocated F-TEID whose VID no processor holds gets No
/// resources available (75); one already in use gets Rule creation/modification Failure (73);
/// the session holding it is untouched.
#[test]
fn cp_allocated_teids_outside_or_taken_are_refused() {
    let mut gw = gateway(9, 0.0);
    let ranges = associate(&mut gw);
    let held: BTreeSet<u16> = PROCS
        .iter()
        .map(|id| gw.proc(*id).vid().unwrap().get())
        .collect();
    let free = (1u16..8).find(|v| !held.contains(v)).unwrap();
    let other = *held.iter().next().unwrap();
    let l = teid_layout();
    let nowhere = l
        .compose(VirtualId::new(free).unwrap(), VirtualId::new(other), 5)
        .unwrap();
    let taken = u32::from(ranges[0].teid_range) << 26 | 7;
    let now = gw.sim.now();
    let a = smf(&mut gw).establish_with_teid(now, nowhere);
    let b = smf(&mut gw).establish_with_teid(now, taken);
    run_until(&mut gw, "first set-ups", |s| {
        s.sessions.iter().all(|x| x.established.is_some())
    });
    let now = gw.sim.now();
    let c = smf(&mut gw).establish_with_teid(now, taken);
    run_until(&mut gw, "second set-up", |s| {
        s.sessions[c].established.is_some()
    });
    let s = &smf_ref(&gw).sessions;
    assert_eq!(s[a].established, Some(Cause::NO_RESOURCES_AVAILABLE));
    assert_eq!(s[a].established.unwrap().0, 75);
    assert_eq!(s[b].established, Some(Cause::REQUEST_ACCEPTED));
    assert_eq!(
        s[c].established,
        Some(Cause::RULE_CREATION_MODIFICATION_FAILURE)
    );
    assert_eq!(s[c].established.unwrap().0, 73);
    let holder = gw.proc_by_vid(vids(taken).0).unwrap();
    assert!(gw.proc(holder).has_session(taken));
    assert_eq!(gw.proc(holder).session_count(), 1);
}

/// Layouts the TEID Range Indication cannot describe are refused when the switch processor is
/// configured with `teid_ranges`; without it they are fine.
#[test]
fn teid_ranges_refuse_layouts_teidri_cannot_describe() {
    let now = std::time::Instant::now();
    let mut c = switch_config(&[li_fabric(1)]);
    c.seed = Some([0; 32]);
    assert!(SwitchProcessor::new(c.clone(), now).is_ok());
    c.teid_ranges = true;
    // 8 + 8 VID bits: TEIDRI fixes at most 7.
    assert_eq!(
        SwitchProcessor::new(c.clone(), now).err(),
        Some(ConfigError::Teidri(TeidriError::TooWide(16)))
    );
    c.layout = VidLayout::teid32(4, 4).unwrap();
    c.l2tp_layout = None;
    assert_eq!(
        SwitchProcessor::new(c.clone(), now).err(),
        Some(ConfigError::Teidri(TeidriError::TooWide(8)))
    );
    c.layout = teid_layout();
    assert!(SwitchProcessor::new(c.clone(), now).is_ok());
    c.layout = VidLayout::teid32(7, 0).unwrap();
    assert!(SwitchProcessor::new(c, now).is_ok());
}

/// tshark dissects the Association Setup Response with its User Plane IP Resource Information
/// IEs, and the Session Establishment with an SMF-allocated F-TEID, with no error item.
#[test]
fn tshark_reads_the_teid_ranges() {
    if !have_tshark() {
        println!("skipped: tshark not found");
        return;
    }
    let mut gw = gateway(8, 0.0);
    let ranges = associate(&mut gw);
    let teid = u32::from(ranges[0].teid_range) << 26 | 1;
    let now = gw.sim.now();
    let idx = smf(&mut gw).establish_with_teid(now, teid);
    run_until(&mut gw, "Session Establishment", |s| {
        s.sessions[idx].established.is_some()
    });
    smf(&mut gw).g_pdu(idx);
    gw.sim.run_for(Duration::from_millis(200));
    let cap = Capture::new(&gw, "teidri", "teidri.pcap");
    cap.assert_clean("(pfcp || gtp)");
    let out = cap.fields(
        "pfcp.msg_type == 6 && ip.src == 10.0.0.1",
        &["pfcp.upiri.teidri", "pfcp.upiri.ipv4_addr"],
    );
    let line = out.lines().next().unwrap_or_default();
    // 12 ranges, each TEIDRI 6 at the gateway's address.
    assert_eq!(line.matches('6').count(), 12, "{out}");
    assert_eq!(line.matches("10.0.0.1").count(), 12, "{out}");
    let out = cap.fields("gtp.teid", &["gtp.teid"]);
    assert!(out.contains(&format!("0x{teid:08x}")), "{out}");
}

/// An SMF that also answers the UP function's Association Update Requests (TS 29.244 section
/// 6.2.7.2: Node ID and Cause Request accepted) and records the TEID ranges each carried.
struct Updating {
    inner: Smf,
    /// The User Plane IP Resource Information of every Association Update Request received,
    /// in arrival order (repeats included).
    updates: Vec<Vec<UpIpResourceInformation<'static>>>,
    out: Vec<telcp::Transmit>,
}

impl telcp::Node for Updating {
    fn handle_datagram(
        &mut self,
        now: std::time::Instant,
        from: std::net::SocketAddr,
        to: std::net::SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        let update = telcp::steering::pfcp::parse(data)
            .ok()
            .filter(|m| m.message_type() == MessageType::ASSOCIATION_UPDATE_REQUEST);
        let Some(m) = update else {
            return self.inner.handle_datagram(now, from, to, data);
        };
        self.updates.push(
            m.ies
                .iter()
                .filter_map(|ie| match ie {
                    Ie::UpIpResourceInformation(u) => Some(u.clone().into_owned()),
                    _ => None,
                })
                .collect(),
        );
        let ies = vec![
            Ie::NodeId(telcp::steering::pfcp::NodeId::Ipv4(SMF_IP.into())),
            Ie::Cause(Cause::REQUEST_ACCEPTED),
        ];
        let r = telcp::steering::pfcp::Message::new(
            MessageType::ASSOCIATION_UPDATE_RESPONSE,
            0,
            m.header.sequence,
            ies,
        );
        self.out.push(telcp::Transmit {
            dst: from,
            src: Some(to),
            link_dst: None,
            payload: r.to_vec().unwrap().into(),
        });
        Ok(())
    }
    fn handle_timeout(&mut self, now: std::time::Instant) {
        self.inner.handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<telcp::Transmit> {
        if self.out.is_empty() {
            self.inner.poll_transmit()
        } else {
            Some(self.out.remove(0))
        }
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.inner.poll_timeout()
    }
}

/// The (VID, backup VID) pairs a list of ranges names.
fn range_pairs(ranges: &[UpIpResourceInformation<'_>]) -> BTreeSet<(VirtualId, VirtualId)> {
    ranges
        .iter()
        .map(|r| {
            assert_eq!((r.teidri, r.ipv4), (6, Some(GW_IP.into())), "{r:?}");
            vids(u32::from(r.teid_range) << 26)
        })
        .collect()
}

/// Every ordered pair of distinct VIDs of `vids`.
fn all_pairs(vids: &BTreeSet<VirtualId>) -> BTreeSet<(VirtualId, VirtualId)> {
    vids.iter()
        .flat_map(|&p| vids.iter().filter(move |&&b| b != p).map(move |&b| (p, b)))
        .collect()
}

/// Conformance: pfcp-6.2.7-association-update-teidri (TS 29.244 sections 6.2.7.2 and
/// 7.4.4.3). When the processor set changes after the association (a processor fails, then
/// comes back as a new incarnation), the UP function sends the associated SMF an Association
/// Update Request whose User Plane IP Resource Information are the ranges of the processors
/// now up (every ordered (VID, backup VID) pair of them), repeated under loss until answered;
/// tshark reads every one without an error item.
#[test]
fn association_update_follows_the_processor_set() {
    common::for_each_seed(common::seed_range_from(70, common::seeds(4)), |seed| {
        let mut smf = Smf::new(SMF_IP.into(), sa(GW_IP, 8805));
        smf.n1 = 24;
        let node = Updating {
            inner: smf,
            updates: Vec::new(),
            out: Vec::new(),
        };
        let shape = Shape {
            layout: teid_layout(),
            teid_ranges: true,
            path: telcp::steering::path::PathConfig {
                t3: Duration::from_millis(300),
                n3: 10,
                ..telcp::steering::path::PathConfig::default()
            },
            ..Shape::default()
        };
        let mut gw = Gateway::with_shape(seed, 0.05, 1, ("smf", SMF_IP), Box::new(node), shape);
        gw.sim.set_trace_limit(1_000_000);
        let now = gw.sim.now();
        gw.sim.node_mut::<Updating>(SMF_NODE).inner.associate(now);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(30), |s| {
                s.node::<Updating>(SMF_NODE).inner.association.is_some()
            });
        assert!(ok, "seed {seed}: no association");
        let held = |gw: &Gateway| -> BTreeSet<VirtualId> {
            PROCS
                .iter()
                .filter(|id| gw.sim.is_alive(gw.procs[id]))
                .filter_map(|id| gw.proc(*id).vid())
                .collect()
        };
        let all = held(&gw);
        assert!(
            gw.sim.node::<Updating>(SMF_NODE).updates.is_empty(),
            "seed {seed}: nothing changed yet"
        );

        // A processor fails: its VID's ranges are withdrawn.
        let victim = PROCS[1];
        let victim_vid = gw.proc(victim).vid().unwrap();
        gw.sim.crash(gw.procs[&victim]);
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
                s.node::<Updating>(SMF_NODE)
                    .updates
                    .last()
                    .is_some_and(|u| u.len() == 6)
            });
        assert!(ok, "seed {seed}: no update after the failure");
        let mut alive = all.clone();
        alive.remove(&victim_vid);
        let last = gw
            .sim
            .node::<Updating>(SMF_NODE)
            .updates
            .last()
            .cloned()
            .unwrap();
        assert_eq!(range_pairs(&last), all_pairs(&alive), "seed {seed}");
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
                s.node::<SwitchProcessor>(NodeId(2))
                    .stats()
                    .association_updates_accepted
                    >= 1
            });
        assert!(ok, "seed {seed}: the update was never answered");

        // It comes back (a new incarnation, a VID again): every pair of the four again.
        let mut pc = processor_config(victim, 2);
        pc.layout = teid_layout();
        let now = gw.sim.now();
        let fresh = telcp::steering::Processor::new(pc, now).unwrap();
        gw.sim.restart(gw.procs[&victim], Box::new(fresh));
        let ok = gw
            .sim
            .run_until_cond(Duration::from_millis(50), Duration::from_secs(10), |s| {
                s.node::<Updating>(SMF_NODE)
                    .updates
                    .last()
                    .is_some_and(|u| u.len() == 12)
            });
        assert!(ok, "seed {seed}: no update after the restart");
        gw.sim.run_for(Duration::from_secs(3));
        let last = gw
            .sim
            .node::<Updating>(SMF_NODE)
            .updates
            .last()
            .cloned()
            .unwrap();
        assert_eq!(range_pairs(&last), all_pairs(&held(&gw)), "seed {seed}");
        let st = gw.sp().stats();
        assert!(st.association_updates >= 2, "seed {seed}: {st:?}");
        assert!(st.association_updates_accepted >= 2, "seed {seed}: {st:?}");
        assert_eq!(st.association_updates_unanswered, 0, "seed {seed}");

        if seed == 70 && have_tshark() {
            let cap = Capture::new(&gw, "assoc_update", "assoc_update.pcap");
            cap.assert_clean("pfcp");
            let out = cap.fields("pfcp.msg_type == 7", &["pfcp.upiri.teidri"]);
            assert!(out.lines().count() >= 2, "{out}");
        }
    });
}
