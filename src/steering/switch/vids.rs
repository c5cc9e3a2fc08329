//! The VID manager: assignment, table versions and pushes, withdrawal and reuse only when safe.

use super::{Owner, SwitchEvent, SwitchProcessor, Timer, VidInfo};
use crate::health::NodeId;
use crate::steering::error::{FabricKind, InputError};
use crate::steering::fabric::{FabricMessage, TableEntry, VidState};
use crate::steering::vid::VirtualId;
use std::net::SocketAddr;
use std::time::Instant;

impl SwitchProcessor {
    /// The table entries as pushed now.
    pub fn table(&self) -> Vec<TableEntry> {
        self.vids
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = v.as_ref()?;
                let vid = VirtualId::new(u16::try_from(i).ok()?)?;
                let state = self.vid_state(v)?;
                Some(TableEntry {
                    vid,
                    state,
                    addr: v.addr,
                })
            })
            .collect()
    }

    pub(super) fn vid_state(&self, v: &VidInfo) -> Option<VidState> {
        match v.owner {
            Owner::Slot(id) => Some(if self.is_operational(id) {
                VidState::Up
            } else {
                VidState::Down
            }),
            Owner::Orphan(_) => Some(VidState::Down),
            Owner::Withdrawn(_) => None,
        }
    }

    pub(super) fn info(&self, vid: VirtualId) -> Option<&VidInfo> {
        self.vids
            .get(usize::from(vid.get()))
            .and_then(|v| v.as_ref())
    }

    pub(super) fn info_mut(&mut self, vid: VirtualId) -> Option<&mut VidInfo> {
        self.vids
            .get_mut(usize::from(vid.get()))
            .and_then(|v| v.as_mut())
    }

    /// Pushes a new table version if the entries changed.
    pub(super) fn refresh(&mut self, now: Instant) {
        let mut changed = false;
        for i in 0..self.vids.len() {
            let s = self
                .vids
                .get(i)
                .copied()
                .flatten()
                .and_then(|v| self.vid_state(&v));
            if let Some(slot) = self.last_states.get_mut(i) {
                if *slot != s {
                    *slot = s;
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
        self.version += 1;
        self.event(SwitchEvent::TablePushed {
            version: self.version,
        });
        self.push_table(now);
        self.teidri_changed(now);
    }

    pub(super) fn push_table(&mut self, now: Instant) {
        if now < self.push_from {
            self.timers.arm(Timer::Push, self.push_from);
            return;
        }
        let msg = FabricMessage::TableUpdate {
            version: self.version,
            entries: self.table(),
        };
        let lines: Vec<SocketAddr> = self
            .acked
            .iter()
            .filter(|(_, v)| **v < self.version)
            .map(|(a, _)| *a)
            .collect();
        for l in lines {
            self.send(l, &msg);
        }
        if self.acked.values().any(|v| *v < self.version) {
            self.timers
                .insert(Timer::Push, now + self.config.retransmit);
        } else {
            self.timers.disarm(&Timer::Push);
        }
    }

    /// Withdraws orphan VIDs no session names; frees withdrawn VIDs every line has acknowledged.
    pub(super) fn collect(&mut self, now: Instant) {
        let mut withdrawn = false;
        let min_acked = self.acked.values().copied().min().unwrap_or(self.version);
        for i in 0..self.vids.len() {
            let Some(Some(v)) = self.vids.get(i).copied() else {
                continue;
            };
            let vid = VirtualId::new(u16::try_from(i).unwrap_or(0));
            match v.owner {
                Owner::Orphan(None) if v.refs == 0 => {
                    if let Some(Some(v)) = self.vids.get_mut(i) {
                        v.owner = Owner::Orphan(Some(now));
                    }
                    self.timers
                        .insert(Timer::Collect, now + self.config.withdraw_after);
                }
                Owner::Orphan(Some(_)) if v.refs > 0 => {
                    if let Some(Some(v)) = self.vids.get_mut(i) {
                        v.owner = Owner::Orphan(None);
                    }
                }
                Owner::Orphan(Some(idle)) if idle + self.config.withdraw_after <= now => {
                    if let Some(Some(v)) = self.vids.get_mut(i) {
                        // The next table version no longer holds it.
                        v.owner = Owner::Withdrawn(self.version + 1);
                    }
                    withdrawn = true;
                    if let Some(vid) = vid {
                        self.event(SwitchEvent::VidWithdrawn { vid });
                    }
                }
                Owner::Orphan(Some(idle)) => {
                    let at = idle + self.config.withdraw_after;
                    if self.timers.deadline(&Timer::Collect).is_none_or(|d| d > at) {
                        self.timers.arm(Timer::Collect, at);
                    }
                }
                Owner::Withdrawn(at) if min_acked >= at => {
                    if let Some(slot) = self.vids.get_mut(i) {
                        *slot = None;
                    }
                    if let Some(vid) = vid {
                        self.event(SwitchEvent::VidFree { vid });
                    }
                }
                _ => {}
            }
        }
        if withdrawn {
            self.refresh(now);
        }
    }

    pub(super) fn orphan(&mut self, slot_id: NodeId) {
        let Some(slot) = self.slots.get_mut(&slot_id) else {
            return;
        };
        if let Some(vid) = slot.vid.take() {
            slot.last_vid = Some(vid);
            if let Some(v) = self.info_mut(vid) {
                v.owner = Owner::Orphan(None);
            }
        }
    }

    /// A processor that kept its state across this switch processor's restart keeps its VID
    /// (`current`), unless another processor holds it. Otherwise the slot's old VID is given
    /// back when no session names it.
    fn reusable_vid(&self, slot_id: NodeId, current: Option<VirtualId>) -> Option<VirtualId> {
        let hinted = current.filter(|v| {
            usize::from(v.get()) < self.vids.len()
                && self.info(*v).is_none_or(|i| {
                    matches!(i.owner, Owner::Orphan(_)) || i.owner == Owner::Slot(slot_id)
                })
        });
        let last = self.slots.get(&slot_id).and_then(|s| s.last_vid);
        hinted.or(last.filter(|v| {
            self.info(*v)
                .is_none_or(|i| i.refs == 0 && matches!(i.owner, Owner::Orphan(_)))
        }))
    }

    /// The lowest VID no one holds.
    fn lowest_free_vid(&self) -> Option<VirtualId> {
        (1..self.vids.len()).find_map(|i| {
            if self.vids.get(i).is_some_and(|v| v.is_none()) {
                VirtualId::new(u16::try_from(i).ok()?)
            } else {
                None
            }
        })
    }

    /// Answers a processor's VID request (see the module documentation, VID manager).
    pub(super) fn assign(
        &mut self,
        now: Instant,
        slot_id: NodeId,
        incarnation: u32,
        current: Option<VirtualId>,
    ) {
        let Some(slot) = self.slots.get(&slot_id) else {
            return;
        };
        let addr = slot.addr;
        match slot.incarnation {
            Some(known) if known == incarnation => {
                if let Some(vid) = slot.vid {
                    // A repeated request: the same answer.
                    self.send_vid_assign(addr, slot_id, incarnation, vid);
                    return;
                }
            }
            Some(known) if known > incarnation => return,
            Some(_) => self.orphan(slot_id),
            None => {}
        }
        let reusable = self.reusable_vid(slot_id, current);
        let vid = reusable.or_else(|| self.lowest_free_vid());
        let Some(vid) = vid else {
            self.stats.vids_exhausted += 1;
            return;
        };
        if let Some(v) = self.vids.get_mut(usize::from(vid.get())) {
            let refs = v.map_or(0, |i| i.refs);
            *v = Some(VidInfo {
                owner: Owner::Slot(slot_id),
                addr,
                refs,
            });
        }
        if let Some(slot) = self.slots.get_mut(&slot_id) {
            slot.incarnation = Some(incarnation);
            slot.vid = Some(vid);
            slot.last_vid = Some(vid);
        }
        self.event(SwitchEvent::VidAssigned {
            processor: slot_id,
            incarnation,
            vid,
            reused: reusable.is_some(),
        });
        self.send_vid_assign(addr, slot_id, incarnation, vid);
        self.refresh(now);
    }

    fn send_vid_assign(
        &mut self,
        addr: SocketAddr,
        processor: NodeId,
        incarnation: u32,
        vid: VirtualId,
    ) {
        let msg = FabricMessage::VidAssign {
            processor,
            incarnation,
            vid,
        };
        self.send(addr, &msg);
    }

    /// A line interface's acknowledgement of table `version`.
    pub(super) fn handle_table_ack(
        &mut self,
        now: Instant,
        from: SocketAddr,
        version: u64,
    ) -> Result<(), InputError> {
        let Some(v) = self.acked.get_mut(&from) else {
            return Err(InputError::Untrusted(FabricKind::TableAck));
        };
        *v = (*v).max(version.min(self.version));
        if self.acked.values().all(|v| *v >= self.version) {
            self.timers.disarm(&Timer::Push);
        }
        self.collect(now);
        Ok(())
    }
}
