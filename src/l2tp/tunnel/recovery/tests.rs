//! Unit tests of RFC 4951 recovery on the shared tunnel engine.

use super::super::{Core, Timer, Up};
use super::{FailoverConfig, Recovery, RestoredTunnel, UnsureSessions, restore_ok};
use crate::l2tp::wire::avp::{FailoverCapability, FailoverSessionState, TunnelRecovery};
use crate::l2tp::wire::{
    Avp, AvpValue, ControlMessage, ErrorCode, Message, MessageType, ResultCodeValue,
};
use crate::l2tp::{CommandError, Config};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn peer() -> SocketAddr {
    "10.0.9.1:1701".parse().unwrap()
}

fn restored(peer_c_bit: bool) -> RestoredTunnel {
    RestoredTunnel {
        local_id: 7,
        peer_id: 70,
        peer: peer(),
        local: None,
        peer_failover: FailoverCapability {
            control: peer_c_bit,
            data: false,
            recovery_time_ms: 4000,
        },
        sessions: vec![(1, 10), (2, 20)],
        recover: None,
    }
}

fn core(failover: Option<FailoverConfig>, restore: Vec<RestoredTunnel>) -> (Instant, Core) {
    let now = Instant::now();
    let cfg = Config {
        seed: crate::io::seed(5),
        failover,
        restore,
        ..Config::default()
    };
    (now, Core::new(cfg, now).unwrap())
}

fn sent(c: &mut Core) -> Vec<ControlMessage<'static>> {
    std::iter::from_fn(|| c.out.pop_front())
        .filter_map(|t| match Message::parse(&t.payload).ok()?.into_owned() {
            Message::Control(m) => Some(m),
            Message::Data(_) => None,
        })
        .collect()
}

/// The restore hook takes valid identities only: non-zero, distinct ids within the limits.
#[test]
fn restore_ids_checked() {
    let mut cfg = Config {
        restore: vec![restored(true)],
        ..Config::default()
    };
    assert!(restore_ok(&cfg));
    cfg.restore.push(restored(true));
    assert!(!restore_ok(&cfg), "duplicate tunnel id");
    cfg.restore = vec![RestoredTunnel {
        sessions: vec![(1, 10), (1, 11)],
        ..restored(true)
    }];
    assert!(!restore_ok(&cfg), "duplicate session id");
    cfg.restore = vec![RestoredTunnel {
        peer_id: 0,
        ..restored(true)
    }];
    assert!(!restore_ok(&cfg), "zero peer tunnel id");
}

/// RFC 4951: a tunnel whose peer advertised the C bit is kept for the peer's Recovery Time when
/// its channel gives up; without failover here, or without the peer's C bit, it goes at once.
#[test]
fn channel_death_waits_only_when_negotiated() {
    for (ours, theirs, waits) in [
        (true, true, true),
        (false, true, false),
        (true, false, false),
    ] {
        let f = ours.then(FailoverConfig::default);
        let (now, mut c) = core(f, vec![restored(theirs)]);
        c.channel_dead(now, 7);
        assert_eq!(c.tunnels.contains_key(&7), waits, "{ours} {theirs}");
        if waits {
            let until = now + Duration::from_millis(4000);
            assert_eq!(
                c.tunnels[&7].recovery.as_deref(),
                Some(&Recovery::Waiting { until })
            );
            assert_eq!(c.timers.deadline(&Timer::Recovery(7)), Some(until));
            c.handle_timeout(until);
            assert!(!c.tunnels.contains_key(&7), "gone after the Recovery Time");
        }
    }
}

/// RFC 4951: FSQ is answered per session with our Session ID, or 0 for a session we do not have
/// (or hold with another peer Session ID).
#[test]
fn fsq_answered_per_session() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let q = [
        FailoverSessionState {
            session_id: 10,
            remote_session_id: 1,
        },
        FailoverSessionState {
            session_id: 99,
            remote_session_id: 2,
        },
        FailoverSessionState {
            session_id: 30,
            remote_session_id: 3,
        },
    ];
    c.on_fsq(now, 7, &ControlMessage::fsq(7, &q));
    let fsr = sent(&mut c).pop().unwrap();
    assert_eq!(fsr.message_type(), Some(MessageType::FSR));
    assert_eq!(fsr.header.tunnel_id, 70);
    let got: Vec<_> = fsr
        .failover_session_states()
        .map(|s| (s.session_id, s.remote_session_id))
        .collect();
    assert_eq!(got, [(1, 10), (0, 99), (0, 30)]);
}

/// RFC 4951: an FSR that names one of our sessions with 0 clears it locally (no CDN sent); the
/// role hears of it.
#[test]
fn fsr_clears_only_sessions_the_peer_lacks() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let r = [
        FailoverSessionState {
            session_id: 10,
            remote_session_id: 1,
        },
        FailoverSessionState {
            session_id: 0,
            remote_session_id: 2,
        },
    ];
    c.on_fsr(now, 7, &ControlMessage::fsr(7, &r));
    assert!(c.tunnels[&7].sessions.contains_key(&1));
    assert!(!c.tunnels[&7].sessions.contains_key(&2));
    assert_eq!(c.session_count, 1);
    assert!(sent(&mut c).is_empty(), "no CDN");
    assert!(matches!(
        c.ups.pop_front(),
        Some(Up::SessionRefused(ref r))
            if r.tunnel == 7 && r.session.local_id == 2
                && r.result.error_code() == Some(ErrorCode::INVALID_SESSION_ID)
    ));
    assert_eq!(c.stats.sessions_cleared_by_fsr, 1);
}

/// The recovering endpoint needs the C bit configured and the peer's Failover Capability.
#[test]
fn start_recovery_needs_negotiation() {
    let no_c = FailoverConfig {
        control: false,
        data: true,
        ..FailoverConfig::default()
    };
    let (now, mut c) = core(Some(no_c), vec![restored(true)]);
    assert_eq!(
        c.start_recovery(now, 7, UnsureSessions::All),
        Err(CommandError::FailoverNotNegotiated)
    );
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    assert_eq!(
        c.start_recovery(now, 8, UnsureSessions::All),
        Err(CommandError::NoTunnel)
    );
    let via = c
        .start_recovery(now, 7, UnsureSessions::List(vec![2, 5]))
        .unwrap();
    assert_eq!(
        c.tunnels[&7].recovery.as_deref(),
        Some(&Recovery::Recovering {
            via,
            query: vec![2],
            attempt: 1
        })
    );
    // A second recovery of the same tunnel is refused while one runs.
    assert_eq!(
        c.start_recovery(now, 7, UnsureSessions::All),
        Err(CommandError::NoTunnel)
    );
}

/// With failover off, a recovery SCCRQ is refused as an endpoint without RFC 4951 refuses an
/// unrecognised M=1 AVP: StopCCN Result 2 / Error 8, no tunnel kept.
#[test]
fn recovery_sccrq_refused_when_failover_off() {
    let (now, mut c) = core(None, Vec::new());
    let mut m = ControlMessage::sccrq(9, b"lns".as_slice(), 3).with(Avp::mandatory(
        AvpValue::TunnelRecovery(TunnelRecovery {
            tunnel_id: 70,
            remote_tunnel_id: 7,
        }),
    ));
    m.header.ns = 0;
    let bytes = Message::Control(m).to_vec();
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    assert!(c.handle_datagram(now, peer(), local, &bytes).is_err());
    assert!(c.tunnels.is_empty());
    let stop = sent(&mut c).pop().unwrap();
    assert_eq!(stop.message_type(), Some(MessageType::STOPCCN));
    let rc = stop.result_code().unwrap();
    assert_eq!(rc.result, ResultCodeValue::STOPCCN_GENERAL_ERROR);
    assert_eq!(rc.error_code(), Some(ErrorCode::UNKNOWN_MANDATORY_AVP));
}

/// A recovery SCCRQ from `peer()` with Assigned Tunnel ID `via` for the restored tunnel 7.
fn recovery_sccrq(via: u16) -> Vec<u8> {
    let m = ControlMessage::sccrq(via, b"lns".as_slice(), 3).with(Avp::mandatory(
        AvpValue::TunnelRecovery(TunnelRecovery {
            tunnel_id: 70,
            remote_tunnel_id: 7,
        }),
    ));
    Message::Control(m).to_vec()
}

/// `m` as the peer's datagram with Ns `ns` and Nr `nr`.
fn numbered(mut m: ControlMessage<'static>, ns: u16, nr: u16) -> Vec<u8> {
    m.header.ns = ns;
    m.header.nr = nr;
    Message::Control(m).to_vec()
}

fn stopccn_result_3(tunnel_id: u16, assigned: u16) -> ControlMessage<'static> {
    ControlMessage::stopccn(
        tunnel_id,
        assigned,
        crate::l2tp::wire::ResultCode::new(ResultCodeValue::STOPCCN_ALREADY_EXISTS),
    )
}

/// The non-failed endpoint: a second recovery of the same tunnel while the first still waits for
/// its SCCCN overtakes it (the peer started over), and the first recovery tunnel is stopped with
/// StopCCN Result 3, after its SCCRP (the window: once that is acknowledged). The first one's
/// SCCCN resumes nothing and is acknowledged by that StopCCN; the second recovery's SCCCN resumes
/// the old tunnel (seed 128213: held silently, the first recovery's SCCCN was acknowledged by a
/// ZLB and its sender resumed with that SCCRP's stale numbers).
#[test]
fn overtaken_recovery_is_stopped() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    c.handle_datagram(now, peer(), local, &recovery_sccrq(300))
        .unwrap();
    let first = sent(&mut c);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].message_type(), Some(MessageType::SCCRP));
    let via1 = first[0].assigned_tunnel_id().unwrap();
    c.handle_datagram(now, peer(), local, &recovery_sccrq(301))
        .unwrap();
    let out = sent(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message_type(), Some(MessageType::SCCRP));
    assert_eq!(out[0].header.tunnel_id, 301);
    let via2 = out[0].assigned_tunnel_id().unwrap();
    assert_eq!(c.stats.recoveries_superseded, 1);
    // The first recovery's SCCCN resumes nothing; the StopCCN acknowledges it.
    let scccn1 = numbered(ControlMessage::scccn(via1), 1, 1);
    let _ = c.handle_datagram(now, peer(), local, &scccn1);
    let out = sent(&mut c);
    assert_eq!(out.len(), 1, "{out:?}");
    let stop = &out[0];
    assert_eq!(stop.message_type(), Some(MessageType::STOPCCN));
    assert_eq!(stop.header.tunnel_id, 300, "on the first recovery tunnel");
    assert_eq!((stop.header.ns, stop.header.nr), (1, 2));
    assert_eq!(
        stop.result_code().unwrap().result,
        ResultCodeValue::STOPCCN_ALREADY_EXISTS
    );
    assert!(matches!(
        c.tunnels[&7].recovery.as_deref(),
        Some(Recovery::Answering { via, .. }) if *via == via2
    ));
    let scccn2 = numbered(ControlMessage::scccn(via2), 1, 1);
    c.handle_datagram(now, peer(), local, &scccn2).unwrap();
    assert!(c.tunnels[&7].recovery.is_none(), "resumed by the second");
}

/// The failed endpoint: a recovery tunnel stopped with StopCCN Result 3 (a newer recovery of the
/// tunnel overtook it) is tried again, the old tunnel kept and held; the acknowledgement of its
/// SCCCN completes nothing while a message of the peer on it is still to come (that StopCCN).
/// After [`super::MAX_RECOVERY_ATTEMPTS`] the recovery fails and the old tunnel is cleared.
#[test]
fn overtaken_recovery_tried_again() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    let mut via = c.start_recovery(now, 7, UnsureSessions::All).unwrap();
    let _ = sent(&mut c);
    for attempt in 1..=super::MAX_RECOVERY_ATTEMPTS {
        assert!(matches!(
            c.tunnels[&7].recovery.as_deref(),
            Some(Recovery::Recovering { via: v, attempt: a, .. }) if *v == via && *a == attempt
        ));
        let sccrp = ControlMessage::sccrp(via, 500 + u16::from(attempt), b"lac".as_slice(), 3)
            .with(Avp::mandatory(AvpValue::SuggestedControlSequence(
                crate::l2tp::wire::avp::SuggestedControlSequence { ns: 5, nr: 9 },
            )));
        c.handle_datagram(now, peer(), local, &numbered(sccrp, 0, 1))
            .unwrap();
        let scccn = sent(&mut c);
        assert_eq!(scccn[0].message_type(), Some(MessageType::SCCCN));
        // The peer's ZLB acknowledges the SCCCN and shows its message 1, not yet here.
        let zlb = ControlMessage::zlb(via, 2, 2);
        let _ = c.handle_datagram(now, peer(), local, &Message::Control(zlb).to_vec());
        assert!(
            c.tunnels[&7]
                .recovery
                .as_deref()
                .is_some_and(Recovery::holds_old_tunnel),
            "attempt {attempt}: not resumed while the peer's message 1 is outstanding"
        );
        let stop = numbered(stopccn_result_3(via, 500 + u16::from(attempt)), 1, 2);
        let _ = c.handle_datagram(now, peer(), local, &stop);
        let out = sent(&mut c);
        if attempt < super::MAX_RECOVERY_ATTEMPTS {
            let sccrq = out
                .iter()
                .find(|m| m.message_type() == Some(MessageType::SCCRQ))
                .expect("tried again");
            assert_eq!(
                sccrq.tunnel_recovery(),
                Some(TunnelRecovery {
                    tunnel_id: 7,
                    remote_tunnel_id: 70
                })
            );
            via = sccrq.assigned_tunnel_id().unwrap();
        } else {
            assert!(
                out.iter()
                    .all(|m| m.message_type() != Some(MessageType::SCCRQ))
            );
        }
    }
    assert!(
        !c.tunnels.contains_key(&7),
        "cleared after the last attempt"
    );
    assert_eq!(c.stats.recoveries_failed, 1);
    assert_eq!(
        c.stats.recoveries_superseded,
        u64::from(super::MAX_RECOVERY_ATTEMPTS - 1)
    );
    assert_eq!(c.stats.recoveries_started, 1);
}

/// rfc4951-scs-sccrp (wire): the remote endpoint's SCCRP on a recovery tunnel carries the
/// Suggested Control Sequence with M=0 and no Failover Capability. RFC 4951 5.3: "The AVP is not
/// mandatory (the M-bit is set to 0)"; 3.2.1: "The recovery tunnel MUST NOT include the Failover
/// Capability AVP in its SCCRQ or SCCRP messages."
#[test]
fn recovery_sccrp_scs_optional_without_fc() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    c.handle_datagram(now, peer(), local, &recovery_sccrq(300))
        .unwrap();
    let out = sent(&mut c);
    let sccrp = &out[0];
    assert_eq!(sccrp.message_type(), Some(MessageType::SCCRP));
    let scs = sccrp
        .avps
        .iter()
        .find(|a| matches!(a.value, AvpValue::SuggestedControlSequence(_)))
        .expect("Suggested Control Sequence");
    assert!(!scs.mandatory, "M=0");
    assert_eq!(sccrp.failover_capability(), None, "{sccrp:?}");
}

/// The recovering endpoint, an SCCRP without Suggested Control Sequence: the recovery goes on
/// (SCCCN, no StopCCN) and the old tunnel's control channel restarts at Ns 0, Nr 0. RFC 4951
/// 3.2.2: "If the recovery endpoint did not receive the Suggested Control Sequence (SCS) AVP in
/// the SCCRP then it MUST reset the Ns and Nr values to zero"; 5.3: "When this AVP is not sent in
/// an SCCRP or not present in an incoming SCCRP, the Ns and Nr values for the recovered tunnel
/// are set to zero."
#[test]
fn sccrp_without_scs_resets_to_zero() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    // The old channel is somewhere else than 0/0 before the recovery.
    c.tunnels.get_mut(&7).unwrap().channel.set_seq(now, 33, 44);
    let via = c.start_recovery(now, 7, UnsureSessions::All).unwrap();
    let _ = sent(&mut c);
    let sccrp = ControlMessage::sccrp(via, 500, b"lac".as_slice(), 3);
    c.handle_datagram(now, peer(), local, &numbered(sccrp, 0, 1))
        .unwrap();
    let out = sent(&mut c);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].message_type(), Some(MessageType::SCCCN));
    assert_eq!(c.tunnels[&7].channel.seq(), (0, 0));
    // The SCCCN acknowledged: the old tunnel resumes and its FSQ goes out at Ns 0.
    let zlb = ControlMessage::zlb(via, 1, 2);
    let _ = c.handle_datagram(now, peer(), local, &Message::Control(zlb).to_vec());
    assert!(c.tunnels[&7].recovery.is_none());
    let fsq = sent(&mut c)
        .into_iter()
        .find(|m| m.message_type() == Some(MessageType::FSQ))
        .expect("FSQ");
    assert_eq!(
        (fsq.header.tunnel_id, fsq.header.ns, fsq.header.nr),
        (70, 0, 0)
    );
}

/// The remote endpoint discards what arrives on the old tunnel between the recovery SCCRQ and
/// the recovery tunnel's SCCCN (no acknowledgement, its Nr unchanged), so it resumes with the
/// sequence it suggested. RFC 4951 3.2.1: "Any control packet received on the recovered tunnel
/// before control channel reset (Section 3.2.2) MUST be silently discarded"; 3.2.2: "the control
/// channel on the remote endpoint is reset upon getting a valid SCCCN on the recovery tunnel".
#[test]
fn old_tunnel_input_discarded_until_scccn() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    c.handle_datagram(now, peer(), local, &recovery_sccrq(300))
        .unwrap();
    let sccrp = sent(&mut c).pop().unwrap();
    let via = sccrp.assigned_tunnel_id().unwrap();
    let scs = sccrp.suggested_control_sequence().unwrap();
    // A late HELLO of the failed endpoint on the old tunnel, at the Ns this end expects.
    let hello = numbered(ControlMessage::hello(7), scs.ns, scs.nr);
    let _ = c.handle_datagram(now, peer(), local, &hello);
    c.handle_timeout(now + Duration::from_secs(1));
    let on_old: Vec<_> = sent(&mut c)
        .into_iter()
        .filter(|m| m.header.tunnel_id == 70)
        .collect();
    assert!(on_old.is_empty(), "nothing answers it: {on_old:?}");
    assert_eq!(c.tunnels[&7].channel.seq().1, scs.ns, "Nr unchanged");
    let scccn = numbered(ControlMessage::scccn(via), 1, 1);
    c.handle_datagram(now, peer(), local, &scccn).unwrap();
    assert!(c.tunnels[&7].recovery.is_none(), "resumed");
    assert_eq!(
        c.tunnels[&7].channel.seq().1,
        scs.ns,
        "resumes where it suggested"
    );
}

/// RFC 4951 5.1: "The Failover Capability AVP MUST NOT be sent with C bit and D bit cleared": a
/// configuration with neither is refused; either alone is taken.
#[test]
fn failover_config_needs_c_or_d() {
    for (control, data, ok) in [
        (false, false, false),
        (true, false, true),
        (false, true, true),
    ] {
        let cfg = Config {
            failover: Some(FailoverConfig {
                control,
                data,
                recovery_time: Duration::from_secs(1),
                ..FailoverConfig::default()
            }),
            ..Config::default()
        };
        let r = cfg.check();
        if ok {
            assert_eq!(r, Ok(()), "C {control} D {data}");
        } else {
            assert_eq!(
                r,
                Err(crate::l2tp::ConfigError::OutOfRange(
                    crate::l2tp::ConfigField::FailoverCapability
                ))
            );
        }
    }
}

/// RFC 4951 3.3: an FSQ naming one of our sessions with another peer Session ID is answered 0,
/// the session is kept ("the local session MUST not be cleared, but rather marked stale, to be
/// queried later using an FSQ message"): our FSQ about it (our Session ID, the peer's as we know
/// it) follows the FSR. Appendix C's dialogue, our side being the remote endpoint.
#[test]
fn fsq_mismatch_kept_and_queried() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let q = [FailoverSessionState {
        session_id: 99,
        remote_session_id: 2,
    }];
    c.on_fsq(now, 7, &ControlMessage::fsq(7, &q));
    assert!(c.tunnels[&7].sessions.contains_key(&2), "not cleared");
    let out = sent(&mut c);
    let fsr = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::FSR))
        .cloned()
        .unwrap();
    let got: Vec<_> = fsr
        .failover_session_states()
        .map(|s| (s.session_id, s.remote_session_id))
        .collect();
    assert_eq!(got, [(0, 99)]);
    // The FSQ follows (once the window lets it: the peer acknowledges the FSR).
    let mut out = out;
    if !out
        .iter()
        .any(|m| m.message_type() == Some(MessageType::FSQ))
    {
        let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
        let zlb = ControlMessage::zlb(7, 0, fsr.header.ns.wrapping_add(1));
        let _ = c.handle_datagram(now, peer(), local, &Message::Control(zlb).to_vec());
        out = sent(&mut c);
    }
    let fsq = out
        .iter()
        .find(|m| m.message_type() == Some(MessageType::FSQ))
        .expect("the stale session queried");
    let got: Vec<_> = fsq
        .failover_session_states()
        .map(|s| (s.session_id, s.remote_session_id))
        .collect();
    assert_eq!(got, [(2, 20)]);
}

/// RFC 4951 3.3: an FSR clears a session only when its Session ID is 0; "Otherwise, it MUST
/// consider the session to be in an established state and recovered", whatever Session ID the
/// peer gives.
#[test]
fn fsr_non_zero_keeps_the_session() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let r = [FailoverSessionState {
        session_id: 77,
        remote_session_id: 1,
    }];
    c.on_fsr(now, 7, &ControlMessage::fsr(7, &r));
    assert!(c.tunnels[&7].sessions.contains_key(&1));
    assert_eq!(c.stats.sessions_cleared_by_fsr, 0);
}

/// RFC 4951 3.2.1 and Appendix B, double failover: while we recover tunnel 7, the peer's own
/// recovery SCCRQ for it arrives. Without a Tie Breaker (or with a higher one) it loses: it is
/// discarded, nothing sent, our recovery goes on. With a lower one it wins: our recovery tunnel
/// goes silently and we answer theirs as the remote endpoint (SCCRP with the Suggested Control
/// Sequence). "An endpoint MUST use the Tie Breaker AVP ... to ensure that only a single
/// recovery tunnel (when both endpoints have simultaneous failover) is established"; "the
/// endpoint that loses the tie, should reset the Ns and Nr values (Section 3.2.2) as if it were
/// a remote endpoint."
#[test]
fn double_failover_tie_breaker() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    let via = c.start_recovery(now, 7, UnsureSessions::All).unwrap();
    let _ = sent(&mut c);
    // No Tie Breaker: theirs loses.
    assert!(
        c.handle_datagram(now, peer(), local, &recovery_sccrq(300))
            .is_err()
    );
    assert!(sent(&mut c).is_empty());
    assert!(matches!(
        c.tunnels[&7].recovery.as_deref(),
        Some(Recovery::Recovering { via: v, .. }) if *v == via
    ));
    // Tie Breaker 0: theirs wins.
    let m = ControlMessage::sccrq(301, b"lac".as_slice(), 3)
        .with(Avp::mandatory(AvpValue::TunnelRecovery(TunnelRecovery {
            tunnel_id: 70,
            remote_tunnel_id: 7,
        })))
        .with(Avp::optional(AvpValue::TieBreaker(0)));
    c.handle_datagram(now, peer(), local, &Message::Control(m).to_vec())
        .unwrap();
    let out = sent(&mut c);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].message_type(), Some(MessageType::SCCRP));
    assert_eq!(out[0].header.tunnel_id, 301);
    assert!(out[0].suggested_control_sequence().is_some());
    assert!(matches!(
        c.tunnels[&7].recovery.as_deref(),
        Some(Recovery::Answering { .. })
    ));
    assert!(c.tunnels[&via].recovery.is_none(), "ours dropped");
}

/// RFC 4951 3.3 (the failed endpoint queries the sessions it is unsure of): a session that came
/// to a recovering tunnel after its recovery started joins the FSQ's query; once the tunnel is
/// recovered it gets an FSQ of its own; a session the tunnel does not hold is never queried.
#[test]
fn a_session_adopted_during_recovery_is_queried() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let via = c
        .start_recovery(now, 7, UnsureSessions::List(vec![2]))
        .unwrap();
    sent(&mut c);
    c.unsure_session(now, 7, 1);
    c.unsure_session(now, 7, 9);
    assert_eq!(
        c.tunnels[&7].recovery.as_deref(),
        Some(&Recovery::Recovering {
            via,
            query: vec![1, 2],
            attempt: 1
        })
    );
    assert!(sent(&mut c).is_empty(), "queried with the others, later");
    // Recovered (no recovery state left): an FSQ of its own, our Session ID and the peer's.
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    sent(&mut c);
    c.unsure_session(now, 7, 2);
    let fsq = sent(&mut c).pop().expect("an FSQ");
    assert_eq!(fsq.message_type(), Some(MessageType::FSQ));
    let got: Vec<_> = fsq
        .failover_session_states()
        .map(|s| (s.session_id, s.remote_session_id))
        .collect();
    assert_eq!(got, [(2, 20)]);
    c.unsure_session(now, 7, 9);
    assert!(sent(&mut c).is_empty(), "no session 9 on tunnel 7");
    // A peer without the C bit is never sent an FSQ.
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(false)]);
    sent(&mut c);
    c.unsure_session(now, 7, 2);
    assert!(sent(&mut c).is_empty());
}

/// A member of a virtual LNS yields a tunnel it was recovering (`Core::forget_tunnel`, another
/// member owns it now): its recovery tunnel goes with it, silently. RFC 4951 3.2.1: the recovery
/// SCCRQ's Tunnel Recovery AVP names the old tunnel, which the peer then holds for that
/// recovery ("Any control packet received on the recovered tunnel before control channel reset
/// (Section 3.2.2) MUST be silently discarded"); an SCCRQ retransmitted (RFC 2661 5.8) for a
/// tunnel we no longer have would have the peer hold, for a recovery nobody completes, the
/// tunnel the owner recovered (failover seeds 17809, 41780), and a late SCCRP on it reset the
/// old channel if the tunnel came back here (seed 23910). Failed with the SCCRQ sent again a
/// second later.
#[test]
fn a_forgotten_tunnel_takes_its_recovery_tunnel_along() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let via = c.start_recovery(now, 7, UnsureSessions::All).unwrap();
    let out = sent(&mut c);
    assert_eq!(out[0].message_type(), Some(MessageType::SCCRQ));
    assert_eq!(c.forget_tunnel(7), Some(2));
    assert!(!c.tunnels.contains_key(&via), "the recovery tunnel is gone");
    for s in 1..=60 {
        c.handle_timeout(now + Duration::from_secs(s));
    }
    let out = sent(&mut c);
    assert!(
        out.is_empty(),
        "nothing sent for a tunnel given up: {out:?}"
    );
}

/// The non-failed endpoint, a recovery it answered for a live tunnel stopped by StopCCN on the
/// recovery tunnel (a virtual LNS member's answer to a yielded taker's stray recovery,
/// `lns::takeover` docs, stray recoveries): the recovery failed, and the old tunnel goes on as
/// it was, what arrives on it taken again. RFC 4951 3.2.1: until the control channel reset
/// (the SCCCN, 3.2.2) what arrives on the old tunnel "MUST be silently discarded"; no reset
/// comes, and the old tunnel was never given up (its channel alive, no Recovery Time running).
#[test]
fn a_stopped_recovery_gives_the_old_tunnel_back() {
    let (now, mut c) = core(Some(FailoverConfig::default()), vec![restored(true)]);
    let local: SocketAddr = "10.0.0.1:1701".parse().unwrap();
    c.handle_datagram(now, peer(), local, &recovery_sccrq(300))
        .unwrap();
    let sccrp = sent(&mut c).pop().unwrap();
    let via = sccrp.assigned_tunnel_id().unwrap();
    let scs = sccrp.suggested_control_sequence().unwrap();
    let hello = numbered(ControlMessage::hello(7), scs.ns, scs.nr);
    let _ = c.handle_datagram(now, peer(), local, &hello);
    assert_eq!(c.tunnels[&7].channel.seq().1, scs.ns, "discarded meanwhile");
    let rc = crate::l2tp::wire::ResultCode::with_error(
        ResultCodeValue::STOPCCN_GENERAL_ERROR,
        ErrorCode::NO_CONTROL_CONNECTION,
        std::borrow::Cow::Borrowed(&b""[..]),
    );
    let stop = numbered(ControlMessage::stopccn(via, 0, rc), 1, 1);
    let _ = c.handle_datagram(now, peer(), local, &stop);
    assert!(c.tunnels[&7].recovery.is_none(), "given back");
    assert_eq!(c.stats.recoveries_failed, 1);
    assert!(c.tunnels[&7].state == super::super::TunnelState::Established);
    // The HELLO retransmitted (RFC 2661 5.8) is taken now.
    let _ = c.handle_datagram(now, peer(), local, &hello);
    assert_eq!(
        c.tunnels[&7].channel.seq().1,
        scs.ns.wrapping_add(1),
        "taken"
    );
}
