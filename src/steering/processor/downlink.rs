//! Downlink: an IP packet to a UE, steered here by the line interface by its destination
//! address ([`LineInterface::handle_downlink`](crate::steering::LineInterface::handle_downlink)),
//! leaves encapsulated in a G-PDU to the session's peer (TS 29.281 section 5.1).

use super::Processor;
use crate::steering::common::Route;
use crate::steering::error::InputError;
use crate::steering::gtp::{GTP_U_PORT, Message};
use crate::steering::line::{DropReason, ip_addresses};
use std::net::{IpAddr, SocketAddr};

impl Processor {
    /// A downlink IP packet (`data`, the whole packet) the line interface `route.line` steered
    /// here: the session is found from the destination address's slice and local index (the
    /// session's TEID carries the same, [`crate::steering::ue_pool`]), own or, as the backup,
    /// replicated, and the packet leaves through that line interface as a G-PDU with the peer's
    /// user-plane TEID (GTPv1 TEID Data I, GTPv2-C S1-U eNodeB F-TEID, PFCP Outer Header
    /// Creation), from the session's gateway address, UDP port 2152 to the peer's user-plane
    /// address, port 2152. An address of no session held here (or of a session whose peer TEID
    /// is not known yet, or whose UE address is not this one) is dropped and counted in
    /// [`ProcessorStats::downlink_unknown`](super::ProcessorStats::downlink_unknown), refused
    /// with [`InputError::Dropped`]`(`[`DropReason::NotInPool`]`)`.
    pub(super) fn downlink(&mut self, route: Route, data: &[u8]) -> Result<(), InputError> {
        let found = ip_addresses(data).and_then(|(_, dst)| {
            let (vid, backup, local) = match dst {
                IpAddr::V4(a) => self.pool.slot_v4(a)?,
                IpAddr::V6(a) => self.pool.slot_v6(a)?,
            };
            let teid = self.config.layout.compose(vid, backup, local).ok()?;
            let (s, as_backup) = match self.sessions.get(&teid) {
                Some(s) => (s, false),
                None => (self.shadow.get(&teid)?, true),
            };
            let same = match dst {
                IpAddr::V4(a) => s.record.ue_addr == a,
                // The /64 is the session's (its slot is the TEID's).
                IpAddr::V6(_) => true,
            };
            (same && s.record.peer_teid_u != 0).then_some((s, as_backup))
        });
        let Some((s, as_backup)) = found else {
            self.stats.downlink_unknown += 1;
            return Err(InputError::Dropped(DropReason::NotInPool));
        };
        let src = SocketAddr::new(s.gateway.ip(), GTP_U_PORT);
        let dst = SocketAddr::new(s.record.peer_u, GTP_U_PORT);
        let g_pdu = Message::g_pdu(s.record.peer_teid_u, data);
        let Some(bytes) = self.reply_bytes(src, dst, &g_pdu) else {
            return Err(InputError::Dropped(DropReason::Malformed));
        };
        if as_backup {
            self.stats.downlink_packets_backup += 1;
        } else {
            self.stats.downlink_packets += 1;
        }
        self.push_to(route.line, bytes);
        Ok(())
    }
}
