//! The primary side of the virtual LNS's replication (issue 15): the backup chosen by load, the
//! records of every change that matters, and the bulk sync when the backup changes.
//!
//! * **Backup**: among the health peers that are Up (the LNS's own monitor), the one with the
//!   most spare capacity ([`crate::l2tp::pool`] selection over the health load table). It is kept
//!   while Up or Suspect (a lost heartbeat or two does not move it) and chosen anew when it is
//!   Down or restarted; the new one gets a bulk sync
//!   ([`Record::Sync`] then every established tunnel and session); the former backup gets an
//!   empty sync at once and again whenever seen Up, which releases what it held for us (so it
//!   does not take over a stale copy).
//! * **Records**: tunnel up ([`Record::Tunnel`]), session up ([`Record::Session`] and its tunnel,
//!   whose Ns/Nr the call set-up moved), session down ([`Record::SessionGone`] and the tunnel),
//!   tunnel down ([`Record::TunnelGone`]). HELLOs, ZLBs and data are not replicated: the backup
//!   resynchronises (`tunnel::snapshot` module docs).
//! * **Bounds**: at most [`ReplicationConfig::max_queue`] incremental records wait for
//!   [`Lns::poll_replica`]; beyond, the queue is dropped, counted in
//!   [`crate::l2tp::Stats::replicas_overflowed`], and a bulk sync replaces it. A bulk sync is
//!   bounded by the tunnel and session tables.
//!
//! The records travel on the caller's transport ([`Lns::poll_replica`] /
//! [`Lns::handle_replica`]), which must deliver them in order and authenticated (the generic
//! replication channel of `crate::replica`, once it exists).

use super::super::replica::Record;
use super::Lns;
use crate::health::{NodeId, NodeState};
use bytes::Bytes;
use std::collections::VecDeque;

/// Replication of a virtual LNS member's tunnels and sessions to a backup (issue 15; needs
/// [`super::LnsConfig::membership`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicationConfig {
    /// Most tunnels held for one member (more: refused, counted in
    /// [`crate::l2tp::Stats::replicas_refused`], lost if that member fails).
    pub max_tunnels: usize,
    /// Most sessions held for one member (same).
    pub max_sessions: usize,
    /// Most incremental records waiting for [`Lns::poll_replica`] (module docs).
    pub max_queue: usize,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            max_tunnels: 1024,
            max_sessions: 65_536,
            max_queue: 65_536,
        }
    }
}

/// The primary side: the chosen backup, the former ones, the records waiting.
#[derive(Debug, Default)]
pub(super) struct Replicator {
    pub(super) backup: Option<NodeId>,
    /// Former backups that may still hold our records (released when seen Up).
    former: Vec<NodeId>,
    /// Records for `poll_replica`, with their destination.
    pub(super) out: VecDeque<(NodeId, Bytes)>,
    /// Incremental records queued (bulk syncs not counted).
    incremental: usize,
    /// The backup needs a bulk sync.
    needs_sync: bool,
}

impl Lns {
    /// Next replication record to send: the health node it is for and its octets
    /// ([`crate::l2tp::replica::Record`]). Records to one node must be delivered in order.
    pub fn poll_replica(&mut self) -> Option<(NodeId, Bytes)> {
        let r = self.repl.out.pop_front();
        self.repl.incremental = self.repl.incremental.min(self.repl.out.len());
        r
    }

    /// The backup currently chosen (module docs of `lns::replicate`).
    pub fn backup(&self) -> Option<NodeId> {
        self.repl.backup
    }

    /// Queues `rec` for `to`.
    pub(super) fn send_record(&mut self, to: NodeId, rec: &Record) {
        self.repl.out.push_back((to, Bytes::from(rec.to_vec())));
        self.core.stats.replicas_sent = self.core.stats.replicas_sent.saturating_add(1);
    }

    /// Queues an incremental record for the backup (module docs: bounded, else a bulk sync).
    fn replicate(&mut self, rec: &Record) {
        let (Some(b), Some(cfg)) = (self.repl.backup, self.cfg.replication) else {
            return;
        };
        if self.repl.needs_sync {
            return;
        }
        if self.repl.incremental >= cfg.max_queue {
            self.core.stats.replicas_overflowed =
                self.core.stats.replicas_overflowed.saturating_add(1);
            self.repl.out.retain(|(n, _)| *n != b);
            self.repl.incremental = 0;
            self.repl.needs_sync = true;
            return;
        }
        self.repl.incremental += 1;
        self.send_record(b, rec);
    }

    /// Tunnel `tid` as it stands (when established).
    pub(super) fn replicate_tunnel(&mut self, tid: u16) {
        if let Some(t) = self.export_tunnel(tid) {
            self.replicate(&Record::Tunnel(t));
        }
    }

    /// Tunnel `tid`'s record with its owner generation.
    fn export_tunnel(&self, tid: u16) -> Option<super::super::replica::TunnelRecord> {
        let mut t = self.core.export_tunnel(tid)?;
        t.epoch = self.backups.epochs.get(&tid).copied().unwrap_or(0);
        Some(t)
    }

    /// Session `sid` of `tid` came up: it and its tunnel.
    pub(super) fn replicate_session(&mut self, tid: u16, sid: u16) {
        self.replicate_tunnel(tid);
        if let Some(s) = self.core.export_session(tid, sid) {
            self.replicate(&Record::Session(s));
        }
    }

    /// Session `sid` of `tid` went down.
    pub(super) fn replicate_session_gone(&mut self, tid: u16, sid: u16) {
        self.replicate(&Record::SessionGone {
            tunnel: tid,
            session: sid,
        });
        self.replicate_tunnel(tid);
    }

    /// Tunnel `tid` went down.
    pub(super) fn replicate_tunnel_gone(&mut self, tid: u16) {
        self.backups.epochs.remove(&tid);
        self.replicate(&Record::TunnelGone { tunnel: tid });
    }

    fn incarnation(&self) -> u32 {
        self.monitor().map_or(0, crate::health::Monitor::incarnation)
    }

    /// Keeps a live backup chosen by load and in sync (module docs); releases former backups
    /// seen Up.
    pub(super) fn ensure_backup(&mut self) {
        if self.cfg.replication.is_none() {
            return;
        }
        let Some(m) = self.monitor() else {
            return;
        };
        let up = |n: NodeId| m.state(n) == Some(NodeState::Up);
        let alive = |n: NodeId| matches!(m.state(n), Some(NodeState::Up | NodeState::Suspect));
        let released: Vec<NodeId> = self.repl.former.iter().copied().filter(|n| up(*n)).collect();
        let keep = self.repl.backup.filter(|b| alive(*b));
        let chosen = keep.or_else(|| {
            let view = self.pool_view();
            view.select_where(|a| view.node_at(a).is_some_and(up))
                .and_then(|a| view.node_at(a))
        });
        let incarnation = self.incarnation();
        for n in released.iter().filter(|n| Some(**n) != chosen) {
            self.send_record(*n, &Record::Sync { incarnation });
        }
        self.repl.former.retain(|n| !released.contains(n));
        if chosen != self.repl.backup {
            if let Some(old) = self.repl.backup {
                // Released at once (the transport delivers it when it can) and again when seen
                // Up.
                self.send_record(old, &Record::Sync { incarnation });
                if !self.repl.former.contains(&old) && self.repl.former.len() < self.cfg.max_pool {
                    self.repl.former.push(old);
                }
            }
            self.repl.former.retain(|n| Some(*n) != chosen);
            self.repl.backup = chosen;
            self.repl.needs_sync = true;
        }
        if self.repl.needs_sync {
            self.bulk_sync();
        }
    }

    /// The backup restarted: what it held is gone.
    pub(super) fn backup_restarted(&mut self, node: NodeId) {
        if self.repl.backup == Some(node) {
            self.repl.needs_sync = true;
        }
    }

    /// Sends the backup every established tunnel and session, after a [`Record::Sync`].
    fn bulk_sync(&mut self) {
        let Some(b) = self.repl.backup else {
            return;
        };
        self.repl.needs_sync = false;
        self.repl.out.retain(|(n, _)| *n != b);
        self.repl.incremental = 0;
        self.core.stats.replica_syncs = self.core.stats.replica_syncs.saturating_add(1);
        let incarnation = self.incarnation();
        self.send_record(b, &Record::Sync { incarnation });
        let mut tids: Vec<u16> = self.core.tunnels.keys().copied().collect();
        tids.sort_unstable();
        for tid in tids {
            let Some(t) = self.export_tunnel(tid) else {
                continue;
            };
            self.send_record(b, &Record::Tunnel(t));
            let mut sids: Vec<u16> = self
                .core
                .tunnels
                .get(&tid)
                .map(|t| t.sessions.keys().copied().collect())
                .unwrap_or_default();
            sids.sort_unstable();
            for sid in sids {
                if let Some(s) = self.core.export_session(tid, sid) {
                    self.send_record(b, &Record::Session(s));
                }
            }
        }
    }
}
