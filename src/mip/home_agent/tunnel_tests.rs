//! The tunnels a Home Agent tells its caller to install and remove come from one place: the
//! binding table's own changes (`BindingTable::report_tunnels_of`, `HomeAgent::report_tunnels`).
//! RFC 5944 section 3.8.3: the home agent tunnels to every care-of address of each binding it
//! serves; so a removal is told only for a tunnel it served, and every tunnel it comes to serve
//! or stops serving is told once, whatever path changed the binding.

use super::testkit::*;
use super::*;
use crate::mip::binding::{Encapsulation, TunnelParams};
use crate::mip::wire::Request;

/// Everything `ha` told its caller since its events were last drained.
fn events_of(ha: &mut HomeAgent) -> Vec<Event> {
    std::iter::from_fn(|| ha.poll_event()).collect()
}

/// The tunnels `events` remove (`Deregistered`, `Expired`, `RegistrationRevoked` with a
/// tunnel), by care-of address.
fn removed(events: &[Event]) -> Vec<Ipv4Addr> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Deregistered { tunnel, .. } | Event::Expired { tunnel, .. } => {
                Some(tunnel.care_of)
            }
            Event::RegistrationRevoked {
                tunnel: Some(tunnel),
                ..
            } => Some(tunnel.care_of),
            _ => None,
        })
        .collect()
}

/// The care-of address of mobile node `k` in [`permanent`] records.
fn coa(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, k as u8)
}

/// RFC 3543 section 4.1 and RFC 5944 section 3.8.3: a binding this HA takes over but cannot
/// serve (its tunnel's encapsulation, minimal here, is not offered) is revoked, not served; its
/// tunnel was never installed here (not in `TakenOver`, not in `served_tunnels`), so the
/// revocation removes none: `RegistrationRevoked` without a tunnel. (Before, it carried the
/// tunnel, a removal of a tunnel the caller never installed.)
#[test]
fn a_taken_over_binding_this_ha_cannot_serve_is_revoked_without_a_tunnel() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    let mut r = permanent(1, 3, 3, 5);
    r.tunnel = Some(TunnelParams {
        encapsulation: Encapsulation::Minimal,
        ..TunnelParams::plain(VIP)
    });
    ha1.apply(t0, NodeId(3), Item::Upsert(r));
    let _ = events_of(&mut ha1);
    // HA 3 (never heard: Down) is taken over by HA 1, which waits out the grace, then revokes.
    ha1.take_over(t0, NodeId(3), NodeId(1), NodeId(1), None);
    assert_eq!(ha1.served_tunnels().count(), 0);
    ha1.handle_timeout(t0 + Duration::from_secs(11));
    assert_eq!(server(&ha1, 1), None, "revoked");
    let events = events_of(&mut ha1);
    let revoked: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::RegistrationRevoked { .. }))
        .collect();
    assert_eq!(revoked.len(), 1, "{events:?}");
    assert!(
        matches!(revoked[0], Event::RegistrationRevoked { home_address, tunnel: None, .. }
            if *home_address == home(1)),
        "{events:?}"
    );
    assert!(removed(&events).is_empty(), "{events:?}");
}

/// RFC 5944 section 3.8.3: a member that accepts the deregistration of a binding another member
/// serves (the request names this member's own address) removes the binding, but it never
/// tunnelled to it: no `Deregistered`. (Before, it reported the other member's tunnel.)
#[test]
fn a_member_accepting_a_deregistration_of_a_binding_served_elsewhere_removes_no_tunnel() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
    let _ = events_of(&mut ha1);
    let own = Ipv4Addr::new(192, 0, 2, 1);
    let dereg = Builder::request(Request {
        lifetime: 0,
        home_address: home(1),
        home_agent: own,
        care_of: home(1),
        identification: ntp(t0, t0),
        ..Request::default()
    })
    .mn_ha_auth(&mn_sa(1))
    .to_vec();
    ha1.handle_datagram(t0, fa(), addr(1), &dereg).unwrap();
    assert_eq!(server(&ha1, 1), None, "deregistered here");
    let events = events_of(&mut ha1);
    assert!(removed(&events).is_empty(), "{events:?}");
}

/// RFC 5944 section 3.8.3.1: a binding's lifetime ends at each member holding it; only the
/// member serving it tunnelled to it, so only there does its expiry remove a tunnel
/// (`Expired`, once). (Before, a backup's replica expiring reported `Expired` too.)
#[test]
fn a_replica_expiring_at_a_backup_removes_no_tunnel_and_at_its_server_one() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 2, 5)));
    ha1.apply(t0, NodeId(2), Item::Upsert(permanent(2, 2, 1, 5)));
    assert_eq!(server(&ha1, 2), Some(NodeId(1)));
    let _ = events_of(&mut ha1);
    ha1.handle_timeout(t0 + Duration::from_secs(601));
    assert_eq!((server(&ha1, 1), server(&ha1, 2)), (None, None));
    let events = events_of(&mut ha1);
    assert_eq!(removed(&events), [coa(2)], "{events:?}");
    assert!(matches!(
        events.iter().find(|e| matches!(e, Event::Expired { .. })),
        Some(Event::Expired { home_address, .. }) if *home_address == home(2)
    ));
}

/// The report needs no code where a binding changes: a change of the table made from anywhere
/// (here, straight through `BindingTable::update` and `remove`, as a new path would) reports
/// the tunnels it adds or removes (RFC 5944 section 3.8.3), once.
#[test]
fn a_change_of_the_table_from_any_path_reports_its_tunnels_once() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    ha1.apply(t0, NodeId(2), Item::Upsert(permanent(1, 2, 1, 5)));
    let _ = events_of(&mut ha1);
    let s = ha1.table.find(home(1), None).unwrap();
    let served = ha1.table.get(s).unwrap().tunnel(VIP, coa(1));
    // Moved to another member, with no event pushed by the path.
    let _ = ha1.table.update(s, |b| b.second_ha = NodeId(2));
    let events = events_of(&mut ha1);
    assert_eq!(
        events,
        [Event::Deregistered {
            home_address: home(1),
            tunnel: served
        }]
    );
    // A change that moves nothing served reports nothing.
    let _ = ha1.table.update(s, |b| b.identification = 6);
    assert!(events_of(&mut ha1).is_empty());
    // Back here: installed again, once.
    let _ = ha1.table.update(s, |b| b.second_ha = NodeId(1));
    let events = events_of(&mut ha1);
    assert!(
        matches!(&events[..], [Event::Registered { tunnel, refresh: false, .. }] if *tunnel == served),
        "{events:?}"
    );
    // Removed from the table: its tunnel goes.
    let _ = ha1.table.remove(s);
    assert_eq!(removed(&events_of(&mut ha1)), [coa(1)]);
}

/// RFC 5944 sections 3.8.3 and 3.6.1.3: a first registration installs its tunnel; a
/// re-registration at the same care-of address with the same tunnel renews it (`refresh`,
/// nothing to install); one at another care-of address without the S bit replaces the binding's
/// care-of address, so the old tunnel goes and the new one is installed.
#[test]
fn a_registration_installs_a_refresh_keeps_and_a_move_replaces_the_tunnel() {
    let t0 = Instant::now();
    let mut ha1 = ha(1, t0);
    let own = Ipv4Addr::new(192, 0, 2, 1);
    let register = |ha1: &mut HomeAgent, at: Duration, care_of: Ipv4Addr| {
        let now = t0 + at;
        let q = Builder::request(Request {
            lifetime: 600,
            home_address: home(1),
            home_agent: own,
            care_of,
            identification: ntp(t0, now),
            ..Request::default()
        })
        .mn_ha_auth(&mn_sa(1))
        .to_vec();
        ha1.handle_datagram(now, fa(), addr(1), &q).unwrap();
        events_of(ha1)
            .into_iter()
            .filter_map(|e| match e {
                Event::Registered {
                    care_of, refresh, ..
                } => Some((true, care_of, refresh)),
                Event::Deregistered { tunnel, .. } => Some((false, tunnel.care_of, false)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        register(&mut ha1, Duration::ZERO, coa(1)),
        [(true, coa(1), false)]
    );
    assert_eq!(
        register(&mut ha1, Duration::from_secs(1), coa(1)),
        [(true, coa(1), true)]
    );
    assert_eq!(
        register(&mut ha1, Duration::from_secs(2), coa(2)),
        [(false, coa(1), false), (true, coa(2), false)]
    );
}
