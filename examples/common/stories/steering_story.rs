//! The steering story.

use super::*;

/// Steering: a gateway of one line interface, a switch processor and four processors; an SGSN
/// creates PDP contexts (through the switch processor), then sends G-PDUs that the line interface
/// steers straight to the processor named by the VID in the TEID; one processor stops and its
/// sessions continue on their backup.
pub fn steering_story(net: &mut Net, tr: &Trace, sum: &mut Summary) {
    tr.section("Steering: virtual-ID steering in a GTP gateway");
    const PROCS: [u32; 4] = [11, 12, 13, 14];
    const CONTEXTS: usize = 8;
    // A GTP request's whole life at the SGSN: N3 attempts T3 apart, and the last one's answer.
    let request_span = sgsn::T3 * sgsn::N3 + Duration::from_millis(600);
    let key = ClusterKey::new(b"demo gateway fabric key");
    let layout = VidLayout::teid32(8, 8).expect("layout");
    let gw_c = addr("127.0.40.1:2123");
    let gw_u = addr("127.0.40.1:2152");
    let line_fabric = addr("127.0.41.1:4000");
    let switch_fabric = addr("127.0.41.100:4000");
    let proc_fabric = |id: u32| SocketAddr::from(([127, 0, 42, id as u8], 4000));
    let now = net.now();
    let line_node = telcp::health::NodeId(2);
    let line_cfg = LineConfig::new(line_fabric, switch_fabric, layout, line_node, key.clone());
    let line = net.add(
        "line",
        &[line_fabric, gw_c, gw_u],
        Box::new(LineInterface::new(line_cfg, now).expect("line config")),
    );
    let mut sw_cfg = SwitchConfig::new(
        telcp::health::NodeId(1),
        switch_fabric,
        vec![line_fabric],
        PROCS
            .iter()
            .map(|&id| (telcp::health::NodeId(id), proc_fabric(id)))
            .collect(),
        layout,
        key.clone(),
    );
    // Fast heartbeats and retransmissions, so the story's failover takes about a second.
    sw_cfg.recovery = 7;
    sw_cfg.retransmit = Duration::from_millis(50);
    sw_cfg.health.interval = Duration::from_millis(100);
    sw_cfg.health.misses_down = 6;
    sw_cfg.health.overload_percent = 95;
    sw_cfg.seed = telcp::io::seed(5);
    let switch = net.add(
        "switch",
        &[switch_fabric],
        Box::new(SwitchProcessor::new(sw_cfg, now).expect("switch config")),
    );
    let procs: Vec<usize> = PROCS
        .iter()
        .map(|&id| {
            let pool = "10.0.0.0/8".parse().expect("prefix");
            let mut cfg = ProcessorConfig::new(
                telcp::health::NodeId(id),
                proc_fabric(id),
                switch_fabric,
                line_fabric,
                layout,
                pool,
                key.clone(),
            );
            // 100 sessions each: one session is 1 % of load, which the switch compares.
            cfg.max_sessions = 100;
            cfg.max_shadow = 400;
            cfg.recovery = 1;
            cfg.retransmit = Duration::from_millis(50);
            cfg.max_retries = 20;
            cfg.health.interval = Duration::from_millis(100);
            net.add(
                &format!("proc-{id}"),
                &[proc_fabric(id)],
                Box::new(Processor::new(cfg, now).expect("processor config")),
            )
        })
        .collect();
    let sgsn_ip = std::net::Ipv4Addr::new(127, 0, 40, 10);
    let sgsn = net.add(
        "sgsn",
        &[
            SocketAddr::from((sgsn_ip, 2123)),
            SocketAddr::from((sgsn_ip, 2152)),
        ],
        // The SGSN's own N3 (12 attempts, T3 300 ms: TS 29.060 7.6), sized for requests that
        // cross five lossy hops.
        Box::new(Sgsn::new(sgsn_ip, gw_c)),
    );
    // VID -> processor, as the switch processor assigns them.
    let mut vids = std::collections::HashMap::new();
    let mut drain = |net: &mut Net, tr: &Trace| {
        while let Some(ev) = net.poll_event_of::<SwitchProcessor>(switch) {
            match ev {
                SwitchEvent::VidAssigned {
                    processor: telcp::health::NodeId(processor),
                    vid,
                    ..
                } => {
                    vids.insert(vid, format!("proc-{processor}"));
                    tr.step(
                        net,
                        "switch",
                        &format!("proc-{processor}"),
                        &format!("VID {vid} assigned"),
                        "processor asked at start",
                    );
                }
                SwitchEvent::SetupDirected { primary, backup } => {
                    let name = |v| vids.get(&v).cloned().unwrap_or_else(|| format!("VID {v}"));
                    let b = backup.map_or("none".to_string(), name);
                    tr.step(
                        net,
                        "switch",
                        &name(primary),
                        "Create PDP Context directed",
                        &format!("least loaded; backup {b}"),
                    );
                }
                SwitchEvent::VidWithdrawn { vid } => {
                    tr.step(
                        net,
                        "switch",
                        "line",
                        &format!("VID {vid} not operational"),
                        "processor Down: steer to backups",
                    );
                }
                _ => {}
            }
        }
        for (i, &p) in procs.iter().enumerate() {
            while let Some(ev) = net.poll_event_of::<Processor>(p) {
                if let ProcessorEvent::SessionCreated { teid, ue_addr, .. } = ev {
                    tr.step(
                        net,
                        &format!("proc-{}", PROCS[i]),
                        "sgsn",
                        "Create PDP Context Response",
                        &format!("TEID {teid:#010x}, UE {ue_addr}"),
                    );
                }
            }
        }
    };
    net.run_for(Duration::from_millis(600));
    drain(net, tr);
    for k in 0..CONTEXTS {
        let now = net.now();
        net.node_mut::<Sgsn>(sgsn)
            .create(now, &format!("00101000000{k:04}"), 5);
        tr.step(
            net,
            "sgsn",
            "line",
            "Create PDP Context Request",
            "TEID 0: to the switch processor",
        );
        // Until the request is answered or given up: TS 29.060 7.6 sends it again every T3 up
        // to N3 times. It crosses five lossy hops (SGSN, line interface, switch processor,
        // processor, line interface, SGSN), so about one attempt in four is lost; a fixed 1.5 s
        // cut the SGSN off after its fifth attempt.
        let deadline = now + request_span;
        while net.now() < deadline {
            net.run_for(Duration::from_millis(5));
            drain(net, tr);
            if net.node_mut::<Sgsn>(sgsn).idle() {
                break;
            }
        }
        // Let the processors' heartbeats carry their new load to the switch processor.
        net.run_for(Duration::from_millis(150));
        drain(net, tr);
    }
    let accepted = net.node_mut::<Sgsn>(sgsn).created();
    let setups_at_switch = net.node_mut::<SwitchProcessor>(switch).stats().from_line;
    // User traffic: 10 G-PDUs per context, steered by the VID in the TEID.
    let send_traffic = |net: &mut Net| {
        for k in 0..CONTEXTS {
            for i in 0..10u8 {
                let packet = [
                    0x45, 0, 0, 20, 0, i, 0, 0, 64, 17, 0, 0, 10, 40, 0, 1, 10, 0, 0, 1,
                ];
                net.node_mut::<Sgsn>(sgsn).g_pdu_with(k, packet.to_vec());
            }
        }
        net.run_for(Duration::from_millis(200));
    };
    send_traffic(net);
    tr.step(
        net,
        "sgsn",
        "line",
        &format!("{} G-PDUs", CONTEXTS * 10),
        "steered by VID, no switch processor",
    );
    let per_proc = |net: &mut Net| -> Vec<u64> {
        procs
            .iter()
            .map(|&p| {
                let s = net.node_mut::<Processor>(p).stats();
                s.user_packets + s.user_packets_backup
            })
            .collect()
    };
    let before = per_proc(net);
    // The processor with the most sessions stops.
    let counts: Vec<usize> = procs
        .iter()
        .map(|&p| net.node_mut::<Processor>(p).session_count())
        .collect();
    let victim = (0..procs.len()).max_by_key(|&i| counts[i]).unwrap_or(0);
    net.stop(procs[victim]);
    tr.step(
        net,
        &format!("proc-{}", PROCS[victim]),
        "-",
        &format!("stops ({} sessions)", counts[victim]),
        "crash",
    );
    net.run_for(Duration::from_millis(1200));
    drain(net, tr);
    send_traffic(net);
    tr.step(
        net,
        "sgsn",
        "line",
        &format!("{} G-PDUs", CONTEXTS * 10),
        "sessions of the stopped one go to their backup",
    );
    for k in 0..CONTEXTS {
        let now = net.now();
        net.node_mut::<Sgsn>(sgsn).update(now, k);
    }
    // Until every request is answered or given up (N3 tries, T3 apart, TS 29.060 7.6: an update
    // lost to the stopped processor before the line interface learnt it, or on a lossy link, is
    // repeated).
    let deadline = net.now() + request_span;
    while net.now() < deadline {
        net.run_for(Duration::from_millis(5));
        drain(net, tr);
        if net.node_mut::<Sgsn>(sgsn).idle() {
            break;
        }
    }
    let updated = net
        .node_mut::<Sgsn>(sgsn)
        .sessions
        .iter()
        .filter(|c| c.updates_ok > 0)
        .count();
    tr.step(
        net,
        "line",
        "backups",
        &format!("{updated}/{CONTEXTS} Update PDP Context answered"),
        "backup serves from synced state",
    );
    let after = per_proc(net);
    let switch_seen = net.node_mut::<SwitchProcessor>(switch).stats().from_line;
    for (i, &id) in PROCS.iter().enumerate() {
        sum.add(
            &format!("proc-{id}"),
            "GTP sessions / G-PDUs before, after",
            format!("{} / {}, {}", counts[i], before[i], after[i] - before[i]),
        );
    }
    let st = net.node_mut::<LineInterface>(line).stats();
    sum.add(
        "sgsn",
        "GTP contexts accepted",
        format!("{accepted} of {CONTEXTS}"),
    );
    sum.add(
        "line",
        "packets steered to primary / backup",
        format!("{} / {}", st.to_primary, st.to_backup),
    );
    sum.add(
        "switch",
        "packets seen (set-ups only)",
        format!("{setups_at_switch} before traffic, {switch_seen} after"),
    );
    sum.add(
        "sgsn",
        "updates answered after failover",
        format!("{updated} of {CONTEXTS}"),
    );
    sum.fact("gtp.contexts", CONTEXTS);
    sum.fact("gtp.accepted", accepted);
    sum.fact(
        "gtp.switch_saw_after_setups",
        switch_seen - setups_at_switch,
    );
    sum.fact("gtp.to_backup", st.to_backup);
    sum.fact("gtp.victim_sessions", counts[victim]);
    sum.fact("gtp.victim_packets_after", after[victim] - before[victim]);
    sum.fact(
        "gtp.packets_after",
        after.iter().sum::<u64>() - before.iter().sum::<u64>(),
    );
    sum.fact("gtp.updates_answered", updated);
}
