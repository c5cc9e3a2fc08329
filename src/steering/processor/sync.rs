//! Replication: syncs of own sessions (responses held until acknowledged), replicated copies of
//! other processors' sessions, and their supersession by newer set-ups of a subscriber.

use super::{Grant, Pending, Processor, ProcessorEvent, Session, Subscriber, Timer};
use crate::steering::error::{FabricKind, InputError};
use crate::steering::fabric::{FabricMessage, SessionProtocol, SessionRecord};
use crate::steering::gtp::{self, Cause, Imsi};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// How a session record ([`SessionRecord::imsi`], a fixed field of the fabric's codec) carries
/// the IMSI of a set-up that had none: every octet `0xff`, all filler, which no IMSI of TBCD
/// digits is (TS 29.060 section 7.7.2).
const NO_IMSI: Imsi = Imsi([0xff; 8]);

/// The IMSI a session record carries, `None` for a set-up without one.
pub(crate) fn record_imsi(r: &SessionRecord) -> Option<Imsi> {
    (r.imsi != NO_IMSI).then_some(r.imsi)
}

/// The record of `imsi` for a session record.
pub(super) fn imsi_record(imsi: Option<Imsi>) -> Imsi {
    imsi.unwrap_or(NO_IMSI)
}

/// Who a session was set up for: GTP's IMSI and NSAPI / EPS Bearer ID, PFCP's CP F-SEID.
pub(super) fn own_key(r: &SessionRecord) -> Subscriber {
    match r.protocol {
        SessionProtocol::Pfcp => Subscriber::CpSession(r.peer_c, r.peer_seid),
        SessionProtocol::Gtpv1 | SessionProtocol::Gtpv2 => {
            Subscriber::Bearer(record_imsi(r), r.nsapi)
        }
    }
}

/// The subscriber key of a replicated session: as [`own_key`], but `None` for a GTP set-up
/// without an IMSI, so such sessions never supersede each other.
fn subscriber_key(r: &SessionRecord) -> Option<Subscriber> {
    match own_key(r) {
        Subscriber::Bearer(None, _) => None,
        k => Some(k),
    }
}

/// The control-plane port of a protocol (TS 29.060 and TS 29.274 section 4.2: 2123; TS 29.244
/// section 4.2.2: 8805).
fn control_port(p: SessionProtocol) -> u16 {
    match p {
        SessionProtocol::Pfcp => crate::steering::pfcp::PFCP_PORT,
        SessionProtocol::Gtpv1 | SessionProtocol::Gtpv2 => gtp::GTP_C_PORT,
    }
}

impl Processor {
    /// Re-announces every session (own and replicated) to a restarted switch processor, in TEID
    /// order, each retried until acknowledged.
    pub(super) fn reannounce(&mut self, now: Instant) {
        let mut own: Vec<SessionRecord> = self.sessions.values().map(|s| s.record).collect();
        own.extend(self.shadow.values().map(|s| s.record));
        own.sort_by_key(|r| r.teid);
        for record in own {
            self.replicate(now, record, false, None);
        }
    }

    /// Sends (or re-sends) the sync of `record`, holding `response` until it is acknowledged.
    pub(super) fn replicate(
        &mut self,
        now: Instant,
        record: SessionRecord,
        delete: bool,
        response: Option<(SocketAddr, Vec<u8>)>,
    ) {
        let p = self.pending.entry(record.teid).or_insert(Pending {
            record,
            delete,
            responses: Vec::new(),
            tries: 0,
        });
        p.record = record;
        p.delete = delete;
        p.tries = 1;
        p.responses.extend(response);
        self.send_switch(&FabricMessage::Sync { delete, record });
        self.timers
            .insert(Timer::Sync(record.teid), now + self.config.retransmit);
    }

    pub(super) fn release(&mut self, teid: u32) {
        self.timers.disarm(&Timer::Sync(teid));
        if let Some(p) = self.pending.remove(&teid) {
            for (line, bytes) in p.responses {
                self.push_to(line, bytes);
            }
        }
    }

    pub(super) fn handle_sync_ack(&mut self, teid: u32, version: u32) {
        if self
            .pending
            .get(&teid)
            .is_some_and(|p| p.record.version <= version)
        {
            self.release(teid);
        }
    }

    pub(super) fn handle_sync(
        &mut self,
        now: Instant,
        delete: bool,
        record: SessionRecord,
    ) -> Result<(), InputError> {
        let vid = self.vid().ok_or(InputError::NotReady)?;
        if self.config.layout.backup(record.teid) != Some(vid) {
            return Err(InputError::Unexpected(FabricKind::Sync));
        }
        if delete {
            self.drop_shadow(record.teid);
        } else {
            let ttl = self.purge_memory();
            let purged = self.purged.contains(now, record.teid, ttl);
            match self.shadow.get_mut(&record.teid) {
                Some(s) => {
                    if s.record.version < record.version {
                        s.record = record;
                    }
                }
                None if purged => {
                    // Purged here meanwhile (its peer restarted): not brought back.
                    self.stats.syncs_purged += 1;
                }
                None => {
                    // A newer set-up of a subscriber whose older copy is held here: that copy
                    // is superseded (its primary is gone or the peer set the context up again).
                    self.supersede_shadow(now, &record);
                    if self.shadow.len() >= self.config.max_shadow {
                        self.stats.shadow_full += 1;
                        return Ok(());
                    }
                    let port = |ip: IpAddr, p: u16| SocketAddr::new(ip, p);
                    self.shadow.insert(
                        record.teid,
                        Session {
                            record,
                            peer: port(record.peer_c, control_port(record.protocol)),
                            gateway: port(
                                self.config.line_addr.ip(),
                                control_port(record.protocol),
                            ),
                            line: self.config.line_addr,
                            qos: Vec::new(),
                            grant: (Grant::V4, Cause::REQUEST_ACCEPTED),
                            chosen: Vec::new(),
                            setup: None,
                        },
                    );
                    if let Some(key) = subscriber_key(&record) {
                        self.shadow_by_subscriber.insert(key, record.teid);
                    }
                }
            }
        }
        let version = self
            .shadow
            .get(&record.teid)
            .map_or(record.version, |s| s.record.version);
        self.send_switch(&FabricMessage::SyncAck {
            teid: record.teid,
            version,
        });
        Ok(())
    }

    /// Deletes a session and replicates the deletion (holding `response` until it is
    /// acknowledged). A replicated copy served as the backup: the deletion is reported to the
    /// switch processor, which frees the VIDs when safe.
    pub(super) fn remove_session(
        &mut self,
        now: Instant,
        record: SessionRecord,
        as_backup: bool,
        response: Option<(SocketAddr, Vec<u8>)>,
    ) {
        let teid = record.teid;
        if as_backup {
            self.drop_shadow(teid);
            self.replicate(now, record, true, None);
        } else {
            self.sessions.remove(&teid);
            self.by_subscriber.remove(&own_key(&record));
            self.release_local(teid);
            self.update_load();
            self.replicate(now, record, true, response);
        }
    }

    /// Forgets the replicated copy `teid` (no report).
    pub(super) fn drop_shadow(&mut self, teid: u32) {
        if let Some(s) = self.shadow.remove(&teid) {
            if let Some(key) = subscriber_key(&s.record) {
                if self.shadow_by_subscriber.get(&key) == Some(&teid) {
                    self.shadow_by_subscriber.remove(&key);
                }
            }
        }
    }

    /// A set-up of `record`'s subscriber under a new TEID (a copy replicated here, or a session
    /// of its own) supersedes the replicated copy held for the same subscriber under another
    /// TEID: the copy is deleted, and the deletion reported to the switch processor as a backup
    /// reports one it served, so that the switch processor forgets the TEID (and frees the VIDs
    /// it named when safe).
    pub(super) fn supersede_shadow(&mut self, now: Instant, record: &SessionRecord) {
        let Some(key) = subscriber_key(record) else {
            return;
        };
        let Some(&old) = self.shadow_by_subscriber.get(&key) else {
            return;
        };
        if old == record.teid {
            return;
        }
        let Some(stale) = self.shadow.get(&old).map(|s| s.record) else {
            self.shadow_by_subscriber.remove(&key);
            return;
        };
        self.stats.shadow_superseded += 1;
        self.remove_session(now, stale, true, None);
    }

    /// A sync not acknowledged within `retransmit`: sent again, or after `max_retries` given up
    /// (its held responses leave anyway, the session is counted unprotected).
    pub(super) fn retry_sync(&mut self, now: Instant, teid: u32) {
        let Some(p) = self.pending.get_mut(&teid) else {
            return;
        };
        if p.tries >= self.config.max_retries {
            self.stats.unprotected += 1;
            self.event(ProcessorEvent::SyncGaveUp { teid });
            self.release(teid);
            return;
        }
        p.tries += 1;
        let msg = FabricMessage::Sync {
            delete: p.delete,
            record: p.record,
        };
        self.send_switch(&msg);
        self.timers
            .insert(Timer::Sync(teid), now + self.config.retransmit);
    }

    /// Deletes the sessions of a `Purge` held here, own or replicated, without replication (see
    /// the module documentation); pending syncs of them are dropped with their held responses.
    pub(super) fn purge(&mut self, now: Instant, teids: &[u32]) {
        let mut count = 0usize;
        let ttl = self.purge_memory();
        for &teid in teids {
            self.purged.insert(now, teid, self.config.max_shadow, ttl);
            if let Some(s) = self.sessions.remove(&teid) {
                let key = own_key(&s.record);
                if self.by_subscriber.get(&key) == Some(&teid) {
                    self.by_subscriber.remove(&key);
                }
                self.release_local(teid);
            } else if self.shadow.contains_key(&teid) {
                self.drop_shadow(teid);
            } else {
                continue;
            }
            count += 1;
            self.timers.disarm(&Timer::Sync(teid));
            self.pending.remove(&teid);
        }
        if count > 0 {
            self.update_load();
            self.stats.sessions_purged += count as u64;
            self.event(ProcessorEvent::SessionsPurged { count });
        }
    }
}

impl Processor {
    /// How long purged TEIDs are remembered: the span of a sync's retransmissions.
    fn purge_memory(&self) -> std::time::Duration {
        self.config
            .retransmit
            .saturating_mul(self.config.max_retries.max(1))
    }
}
