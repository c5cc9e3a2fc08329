//! The VID manager: assignment, table versions and pushes, withdrawal and reuse only when safe.

use super::{Owner, Slot, SwitchEvent, SwitchProcessor, Timer, VidInfo};
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
        // The version these entries go out in, if any changed.
        let next = self.version + 1;
        for i in 0..self.vids.len() {
            let info = self.vids.get(i).copied().flatten();
            let s = info.and_then(|v| self.vid_state(&v));
            if let Some(slot) = self.last_states.get_mut(i) {
                if *slot != s {
                    *slot = s;
                    changed = true;
                }
            }
            if let Some(since) = self.up_since.get_mut(i) {
                *since = match (s, info) {
                    (Some(VidState::Up), Some(v)) => match *since {
                        Some((at, addr)) if addr == v.addr => Some((at, addr)),
                        _ => Some((next, v.addr)),
                    },
                    _ => None,
                };
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

    /// Whether table pushes wait at `now` for `rejoin_grace` to end (the push timer is then armed
    /// for its end).
    fn pushes_held(&mut self, now: Instant) -> bool {
        let held = now < self.push_from;
        if held {
            self.timers.arm(Timer::Push, self.push_from);
        }
        held
    }

    /// The current table, as pushed.
    fn table_update(&self) -> FabricMessage<'static> {
        FabricMessage::TableUpdate {
            version: self.version,
            entries: self.table(),
        }
    }

    pub(super) fn push_table(&mut self, now: Instant) {
        if self.pushes_held(now) {
            return;
        }
        let msg = self.table_update();
        let version = self.version;
        let retransmit = self.config.retransmit;
        let mut behind = false;
        let mut send = Vec::new();
        for (a, l) in &mut self.lines {
            if l.acked < version {
                behind = true;
                let since = *l.behind_since.get_or_insert(now);
                // A line interface not heard from yet: its hello first (module docs).
                if l.incarnation != 0 || since + retransmit <= now {
                    send.push(*a);
                }
            }
        }
        for l in &send {
            self.send(*l, &msg);
        }
        if !behind {
            self.timers.disarm(&Timer::Push);
        } else {
            self.timers
                .insert(Timer::Push, now + self.config.retransmit);
        }
        self.arm_line_ack();
    }

    /// Pushes the current table to line interface `line` alone, now (not before
    /// `rejoin_grace`), and keeps repeating pushes every `retransmit` while it is behind.
    fn push_line(&mut self, now: Instant, line: SocketAddr) {
        if self.pushes_held(now) {
            return;
        }
        let msg = self.table_update();
        self.send(line, &msg);
        if self.timers.deadline(&Timer::Push).is_none() {
            self.timers
                .insert(Timer::Push, now + self.config.retransmit);
        }
    }

    /// The newest table version every line interface but the silent ones has acknowledged (the
    /// current version when every one is silent).
    pub(super) fn acked_by_lines(&self) -> u64 {
        self.lines
            .values()
            .filter(|l| !l.silent)
            .map(|l| l.acked)
            .min()
            .unwrap_or(self.version)
    }

    /// Arms the timer of the first line interface that would become silent.
    fn arm_line_ack(&mut self) {
        let timeout = self.config.line_ack_timeout;
        let first = self
            .lines
            .values()
            .filter(|l| !l.silent)
            .filter_map(|l| l.behind_since)
            .min();
        match first {
            Some(at) => {
                self.timers.insert(Timer::LineAck, at + timeout);
            }
            None => self.timers.disarm(&Timer::LineAck),
        }
    }

    /// Line interfaces behind for `line_ack_timeout` become silent (see
    /// [`SwitchConfig::line_ack_timeout`](super::SwitchConfig::line_ack_timeout)).
    pub(super) fn line_ack_due(&mut self, now: Instant) {
        let timeout = self.config.line_ack_timeout;
        let mut silent = Vec::new();
        for (a, l) in &mut self.lines {
            if !l.silent && l.behind_since.is_some_and(|t| t + timeout <= now) {
                l.silent = true;
                silent.push((*a, l.acked));
            }
        }
        let any = !silent.is_empty();
        for (line, acked) in silent {
            self.stats.line_interfaces_ignored += 1;
            self.event(SwitchEvent::LineInterfaceSilent { line, acked });
        }
        self.arm_line_ack();
        if any {
            // Placement no longer waits for it: neither do the TEID ranges.
            self.teidri_changed(now);
        }
    }

    /// Withdraws orphan VIDs no session names; frees withdrawn VIDs every line has acknowledged.
    pub(super) fn collect(&mut self, now: Instant) {
        let mut withdrawn = false;
        // Every line interface, silent or not: a VID is reused only when none can name it.
        let min_acked = self
            .lines
            .values()
            .map(|l| l.acked)
            .min()
            .unwrap_or(self.version);
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

    /// A line interface's acknowledgement of table `version`, sealed by it in `incarnation`.
    /// Under a higher incarnation than known (it restarted), its acknowledged version is
    /// `version` even when lower, and the current table is pushed to it at once (module docs,
    /// Line interface restarts).
    pub(super) fn handle_table_ack(
        &mut self,
        now: Instant,
        from: SocketAddr,
        version: u64,
        incarnation: u32,
    ) -> Result<(), InputError> {
        let current = self.version;
        let Some(l) = self.lines.get_mut(&from) else {
            return Err(InputError::Untrusted(FabricKind::TableAck));
        };
        let version = version.min(current);
        let restarted = incarnation > l.incarnation;
        if restarted {
            // A new incarnation holds what it says it holds, no more: every VID it does not
            // know of waits for it again.
            l.incarnation = incarnation;
            l.acked = version;
            l.behind_since = (version < current).then_some(now);
            l.silent = false;
        } else if version > l.acked {
            // Alive: a silent line interface counts again, and one still behind is given
            // `line_ack_timeout` from now.
            l.acked = version;
            l.behind_since = (version < current).then_some(now);
            l.silent = false;
        }
        if self.lines.values().all(|l| l.acked >= current) {
            self.timers.disarm(&Timer::Push);
        }
        if restarted && version < current {
            self.push_line(now, from);
        }
        self.arm_line_ack();
        self.collect(now);
        // The VIDs placement may use, and so the TEID ranges advertised, follow the
        // acknowledgements.
        self.teidri_changed(now);
        Ok(())
    }
}

/// Whether `slot`'s VID is Up, at `slot`'s address, in every table version from one at or below
/// `acked` on (`up_since`: per VID, the first version of its current Up run): a line interface
/// that acknowledged `acked` steers the VID's packets to it.
pub(super) fn named_up(up_since: &[Option<(u64, SocketAddr)>], slot: &Slot, acked: u64) -> bool {
    slot.vid
        .and_then(|v| up_since.get(usize::from(v.get())).copied().flatten())
        .is_some_and(|(since, addr)| since <= acked && addr == slot.addr)
}
