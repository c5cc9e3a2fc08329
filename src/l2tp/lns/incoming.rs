//! Call admission by the caller: the rules are on [`AdmissionConfig`], where rustdoc shows them
//! (this module is private).

use super::super::call::PackedCallDetails;
use super::super::session::SessionState;
use super::super::tunnel::Timer;
use super::super::wire::avp::AvpValue;
use super::super::wire::{Avp, ControlMessage, ErrorCode, ResultCode, ResultCodeValue};
use super::super::{AdmissionId, CallDetails, CommandError, Event, SessionRef};
use super::{Lns, LnsConfig};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// Call admission by the caller, in the manner of quinn's `Incoming`: with
/// [`LnsConfig::admission`] set, every call this LNS would serve (the contact LNS's redirects stay
/// its own decision) is reported as [`Event::IncomingCall`] with its typed
/// [`CallDetails`](crate::l2tp::CallDetails), and waits for [`Lns::accept`] or [`Lns::refuse`].
///
/// # Where the decision sits: before ICRP
///
/// The ICRQ is acknowledged at once by the control channel (RFC 2661 5.8), so the LAC does not
/// retransmit it, but no ICRP leaves until the caller accepts: a refused call is answered by CDN
/// only, as RFC 2661 7.4.2 (idle state, "ICRQ received, unacceptable") has it, and the LNS keeps
/// no state. The consequences:
///
/// * the LAC waits for the ICRP under its own call set-up timer (RFC 2661 leaves it to the
///   implementation; xl2tpd and Linux LACs allow seconds): [`AdmissionConfig::timeout`] must stay
///   below it;
/// * the ICCN's details (Connect Speeds, Framing Type, proxy LCP and proxy authentication) come
///   only after the ICRP, so they cannot be part of the first decision: they are reported, merged
///   with the ICRQ's, by [`Event::CallConnected`] just before [`Event::SessionUp`] (what a BNG
///   needs for its RADIUS Access-Request); a caller that rejects the call then closes it with
///   [`Lns::close_session`];
/// * the session id is reserved at ICRQ time (the id the ICRP will assign), so a retransmitted
///   or repeated ICRQ for the same LAC session finds it and is not admitted twice.
///
/// # Bounds and refusals
///
/// At most [`AdmissionConfig::max_pending`] decisions wait at once; an ICRQ beyond gets CDN
/// Result 2 "call disconnected for the reasons indicated in error code" with Error 4 "insufficient
/// resources to handle this operation now" (RFC 2661 4.4.2), no state kept, counted in
/// [`Stats::admissions_overflowed`](crate::l2tp::Stats::admissions_overflowed) (and
/// [`Event::Refused`]). A decision not answered within [`AdmissionConfig::timeout`] refuses the
/// call with CDN Result 4 "call failed due to lack of appropriate facilities being available
/// (temporary condition)", counted in
/// [`Stats::admissions_timed_out`](crate::l2tp::Stats::admissions_timed_out), and
/// [`Event::SessionDown`] names the session. A tunnel that goes down takes its pending calls with
/// it (also [`Event::SessionDown`]). An answer to an id no longer pending is
/// [`CommandError::NoAdmission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Decisions pending at once (more: CDN Result 2 / Error 4). At least 1.
    pub max_pending: usize,
    /// How long a decision may wait (then: CDN Result 4). Keep it below the LAC's call set-up
    /// timer. Non-zero, at most a minute.
    pub timeout: Duration,
}

impl Default for AdmissionConfig {
    /// 256 pending, 3 seconds.
    fn default() -> Self {
        AdmissionConfig {
            max_pending: 256,
            timeout: Duration::from_secs(3),
        }
    }
}

impl AdmissionConfig {
    pub(super) fn valid(&self) -> bool {
        self.max_pending >= 1 && !self.timeout.is_zero() && self.timeout <= Duration::from_secs(60)
    }
}

/// How an accepted call is served ([`Lns::accept`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptParams {
    /// Ask the LAC for sequenced data messages (Sequencing Required in the ICRP, RFC 2661 4.4.6,
    /// 5.4); `None`: [`Config::sequencing_required`](crate::l2tp::Config::sequencing_required).
    pub sequencing_required: Option<bool>,
}

impl Lns {
    /// Decisions waiting for [`Lns::accept`] or [`Lns::refuse`].
    pub fn pending_admissions(&self) -> usize {
        self.admissions.len()
    }

    /// Accepts a call reported by [`Event::IncomingCall`]: ICRP leaves (with Sequencing Required
    /// as `params` say), the session waits for the LAC's ICCN under the set-up timer, then
    /// [`Event::CallConnected`] and [`Event::SessionUp`]. With a backup the ICRP is held for it
    /// (`replicate` module docs, output commit) and the call's record is among what
    /// [`Lns::poll_transmit`] gives right after this call.
    ///
    /// # Errors
    /// [`CommandError::NoAdmission`] when `id` is not pending (answered, timed out, its tunnel
    /// gone, or unknown); nothing changes.
    pub fn accept(
        &mut self,
        now: Instant,
        id: AdmissionId,
        params: AcceptParams,
    ) -> Result<SessionRef, CommandError> {
        let sref = self.take_admission(id)?;
        let sequencing = params
            .sequencing_required
            .unwrap_or(self.cfg.common.sequencing_required);
        let Some(s) = self.core.session_mut(sref.tunnel, sref.session) else {
            return Err(CommandError::NoAdmission);
        };
        s.admission = None;
        s.sequencing = sequencing;
        let peer_sid = s.peer_header_id();
        let mut icrp = ControlMessage::icrp(0, peer_sid, sref.session);
        if sequencing {
            icrp.push(Avp::mandatory(AvpValue::SequencingRequired));
        }
        self.reply_committed(now, sref.tunnel, sref.session, icrp);
        // The flush an input ends with: the call's record leaves now, with whatever other
        // records lingered for the backup (its ICRP is held for it, so none lingers on), not
        // at the next input or timer.
        self.flush_replication(now);
        self.core.stats.admissions_accepted += 1;
        Ok(sref)
    }

    /// Refuses a call reported by [`Event::IncomingCall`]: CDN with `result` to the LAC's
    /// session (RFC 2661 6.12, 7.4.2), the reserved session freed, no state left.
    ///
    /// # Errors
    /// [`CommandError::NoAdmission`] when `id` is not pending; nothing is sent.
    pub fn refuse(
        &mut self,
        now: Instant,
        id: AdmissionId,
        result: ResultCode<'static>,
    ) -> Result<(), CommandError> {
        let sref = self.take_admission(id)?;
        self.drop_admitting(now, sref, result);
        self.core.stats.admissions_refused += 1;
        Ok(())
    }

    /// Removes `id` from the pending decisions, checking its session still waits for it.
    fn take_admission(&mut self, id: AdmissionId) -> Result<SessionRef, CommandError> {
        let sref = *self.admissions.get(&id).ok_or(CommandError::NoAdmission)?;
        self.admissions.remove(&id);
        let waiting = self
            .core
            .session_mut(sref.tunnel, sref.session)
            .is_some_and(|s| s.admission == Some(id));
        if waiting {
            Ok(sref)
        } else {
            Err(CommandError::NoAdmission)
        }
    }

    /// Frees an admitting session and answers the LAC with CDN `result` (Assigned Session ID 0:
    /// the LAC was never told ours).
    fn drop_admitting(&mut self, now: Instant, sref: SessionRef, result: ResultCode<'static>) {
        if let Some(s) = self.core.remove_session(now, sref.tunnel, sref.session) {
            let cdn = ControlMessage::cdn(0, s.peer_header_id(), 0, result);
            self.core.send_ctrl(now, sref.tunnel, cdn);
        }
    }

    /// ICRQ a caller must decide on: a session reserved (no ICRP yet), [`Event::IncomingCall`].
    /// Beyond [`AdmissionConfig::max_pending`]: CDN Result 2 / Error 4 at once. `false` when no
    /// session can be had.
    pub(super) fn admit_icrq(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
        lbc: bool,
    ) -> bool {
        let Some(ac) = self.cfg.admission else {
            return false;
        };
        let Some(peer) = self.core.tunnels.get(&tid).map(|t| t.peer) else {
            return false;
        };
        let peer_sid = m.assigned_session_id().unwrap_or(0);
        if self.admissions.len() >= ac.max_pending {
            let rc = ResultCode::with_error(
                ResultCodeValue::CDN_GENERAL_ERROR,
                ErrorCode::INSUFFICIENT_RESOURCES,
                Cow::Borrowed(&b""[..]),
            );
            self.core
                .send_ctrl(now, tid, ControlMessage::cdn(0, peer_sid, 0, rc.clone()));
            self.core.stats.admissions_overflowed += 1;
            self.core.event(Event::Refused { peer, result: rc });
            return true;
        }
        let serial = m.call_serial_number().unwrap_or(0);
        let id = AdmissionId(self.next_admission);
        let details = Box::new(CallDetails::from_message(m));
        let Some(s) = self
            .core
            .new_session(tid, peer_sid, SessionState::WaitConnect, serial)
        else {
            return false;
        };
        self.next_admission += 1;
        s.load_balance_capable = lbc;
        s.admission = Some(id);
        let packed = PackedCallDetails::new(&details);
        s.details = (!packed.is_empty()).then_some(packed);
        let session = SessionRef {
            tunnel: tid,
            session: s.local_id,
        };
        self.admissions.insert(id, session);
        self.core
            .timers
            .insert(Timer::Session(tid, session.session), now + ac.timeout);
        self.core.stats.admissions_asked += 1;
        self.core.event(Event::IncomingCall {
            id,
            session,
            peer,
            details,
        });
        true
    }

    /// The session timer of a session: `true` when it was a pending admission, now refused
    /// (CDN Result 4) and reported down.
    pub(super) fn admission_timed_out(&mut self, now: Instant, sref: SessionRef) -> bool {
        let Some(id) = self
            .core
            .session_mut(sref.tunnel, sref.session)
            .and_then(|s| s.admission)
        else {
            return false;
        };
        self.admissions.remove(&id);
        let rc = ResultCode::new(ResultCodeValue::CDN_TEMPORARY_RESOURCES);
        self.drop_admitting(now, sref, rc.clone());
        self.core.stats.admissions_timed_out += 1;
        self.core.session_down(Some(sref), None, Some(rc));
        true
    }

    /// An ICCN (or OCCN) for a session: `None` (ignored) while its admission is pending (no
    /// ICRP was sent, so the LAC cannot legitimately connect it). Otherwise, with admission on,
    /// [`Event::CallConnected`] with the merged details; and the message's details
    /// ([`CallDetails::replicable`]) merged into the session's, which are returned for the
    /// backup when there are any (`Some(None)`: none; `replicate` docs, records).
    pub(super) fn admission_connect(
        &mut self,
        sref: SessionRef,
        m: &ControlMessage<'_>,
    ) -> Option<Option<PackedCallDetails>> {
        let admission = self.cfg.admission.is_some();
        let s = self.core.session_mut(sref.tunnel, sref.session)?;
        if s.admission.is_some() {
            return None;
        }
        // An admitted call (in wait-connect; the ICRQ's details kept, if it had any).
        if admission && (s.details.is_some() || s.state == SessionState::WaitConnect) {
            let mut details = Box::new(s.details.as_ref().map(|d| d.unpack()).unwrap_or_default());
            details.merge(CallDetails::from_message(m));
            self.core.event(Event::CallConnected {
                session: sref,
                details,
            });
        }
        if !self.keeps_call_details() {
            return Some(None);
        }
        Some(self.merge_call_message(sref, m))
    }

    /// As [`Lns::merge_call_details`] of `PackedCallDetails::from_message(m)` (an ICCN's
    /// details), the update and the merged details made in one pass
    /// ([`super::super::replica::merge_message`]).
    pub(super) fn merge_call_message(
        &mut self,
        sref: SessionRef,
        m: &ControlMessage<'_>,
    ) -> Option<PackedCallDetails> {
        let s = self.core.session_mut(sref.tunnel, sref.session)?;
        let (update, merged) = super::super::replica::merge_message(s.details.as_ref(), m)?;
        s.details = Some(merged);
        Some(update)
    }

    /// Whether sessions keep their calls' details: for [`Event::CallConnected`] (admission on)
    /// or for the backup ([`super::ReplicationConfig::call_details`]).
    #[inline]
    pub(super) fn keeps_call_details(&self) -> bool {
        self.cfg.admission.is_some()
            || self
                .cfg
                .replication
                .as_ref()
                .is_some_and(|r| r.call_details)
    }

    /// Merges `update` (an ICCN's details, packed: [`PackedCallDetails::from_message`]) into
    /// those session `sref` keeps; `update` back when it has any field (what a
    /// [`super::super::replica::Record::CallUpdate`] carries to the backup).
    pub(super) fn merge_call_details(
        &mut self,
        sref: SessionRef,
        update: PackedCallDetails,
    ) -> Option<PackedCallDetails> {
        if update.is_empty() {
            return None;
        }
        let s = self.core.session_mut(sref.tunnel, sref.session)?;
        let merged = match &s.details {
            Some(d) => d.merged(&update),
            None => update.clone(),
        };
        s.details = Some(merged);
        Some(update)
    }

    /// Forgets the pending decisions whose session is gone (its tunnel closed).
    pub(super) fn forget_admissions(&mut self) {
        let core = &mut self.core;
        self.admissions.retain(|id, sref| {
            core.session_mut(sref.tunnel, sref.session)
                .is_some_and(|s| s.admission == Some(*id))
        });
    }
}

/// Checks the admission part of an LNS configuration.
pub(super) fn check(cfg: &LnsConfig) -> bool {
    cfg.admission.is_none_or(|a| a.valid())
}
