//! State sync: a processor's `Sync` relayed to the backup its TEID names, the `SyncAck` back,
//! and the set of live TEIDs that says which VIDs are still named.

use super::{Owner, SwitchProcessor, VidInfo};
use crate::steering::error::{FabricKind, InputError};
use crate::steering::fabric::{FabricMessage, SessionRecord};
use crate::steering::vid::VirtualId;
use std::net::SocketAddr;
use std::time::Instant;

impl SwitchProcessor {
    pub(super) fn add_ref(&mut self, vid: Option<VirtualId>, add: bool) {
        if let Some(v) = vid.and_then(|v| self.info_mut(v)) {
            v.refs = if add {
                v.refs.saturating_add(1)
            } else {
                v.refs.saturating_sub(1)
            };
        }
    }

    pub(super) fn handle_sync(
        &mut self,
        now: Instant,
        from: SocketAddr,
        delete: bool,
        record: SessionRecord,
    ) -> Result<(), InputError> {
        let Some(&slot_id) = self.by_addr.get(&from) else {
            return Err(InputError::Untrusted(FabricKind::Sync));
        };
        let sender = self.slots.get(&slot_id).and_then(|s| s.vid);
        let layout = self.config.layout;
        let (primary, backup) = (layout.primary(record.teid), layout.backup(record.teid));
        if sender.is_none() || (sender != primary && sender != backup) {
            return Err(InputError::Untrusted(FabricKind::Sync));
        }
        if delete {
            if self.sessions.remove(&record.teid) {
                self.add_ref(primary, false);
                self.add_ref(backup, false);
                self.path_remove_session(record.teid);
            }
        } else if !self.sessions.contains(&record.teid) {
            if self
                .purged
                .contains(now, record.teid, self.config.withdraw_after)
            {
                // Purged meanwhile (its peer restarted): acknowledged, neither relayed nor
                // counted live, so it does not come back.
                self.stats.syncs_purged += 1;
                self.send(
                    from,
                    &FabricMessage::SyncAck {
                        teid: record.teid,
                        version: record.version,
                    },
                );
                return Ok(());
            }
            if self.sessions.len() >= self.config.max_sessions {
                self.stats.syncs_refused += 1;
                return Ok(());
            }
            self.sessions.insert(record.teid);
            self.path_add_session(&record);
            self.learn(now, from, [primary, backup]);
        }
        if !delete && self.sessions.contains(&record.teid) {
            self.path_user_plane(now, &record);
        }
        let relay_to = if sender == primary {
            backup
                .and_then(|b| self.info(b))
                .filter(|i| matches!(i.owner, Owner::Slot(id) if self.is_operational(id)))
                .map(|i| i.addr)
        } else {
            None
        };
        match relay_to {
            Some(addr) => {
                self.stats.syncs_relayed += 1;
                self.send(addr, &FabricMessage::Sync { delete, record });
            }
            None => {
                self.stats.syncs_acked += 1;
                self.send(
                    from,
                    &FabricMessage::SyncAck {
                        teid: record.teid,
                        version: record.version,
                    },
                );
            }
        }
        if delete {
            self.collect(now);
        }
        Ok(())
    }

    /// Counts a new session's references to its VIDs. After a restart of this switch
    /// processor, a backup's announcement may name a VID no processor holds any more: it is
    /// kept, as down, while sessions name it.
    fn learn(&mut self, now: Instant, from: SocketAddr, vids: [Option<VirtualId>; 2]) {
        let mut learned = false;
        for v in vids.into_iter().flatten() {
            if let Some(slot @ None) = self.vids.get_mut(usize::from(v.get())) {
                *slot = Some(VidInfo {
                    owner: Owner::Orphan(None),
                    addr: from,
                    refs: 0,
                });
                learned = true;
            }
        }
        for v in vids {
            self.add_ref(v, true);
        }
        if learned {
            self.refresh(now);
        }
    }

    /// Relays a backup's `SyncAck` to the primary the TEID names.
    pub(super) fn relay_sync_ack(
        &mut self,
        from: SocketAddr,
        teid: u32,
        version: u32,
    ) -> Result<(), InputError> {
        if !self.by_addr.contains_key(&from) {
            return Err(InputError::Untrusted(FabricKind::SyncAck));
        }
        let primary = self.config.layout.primary(teid);
        let addr = primary.and_then(|p| self.info(p)).map(|i| i.addr);
        match addr {
            Some(a) => {
                self.send(a, &FabricMessage::SyncAck { teid, version });
                Ok(())
            }
            None => Err(InputError::UnknownTeid(teid)),
        }
    }
}
