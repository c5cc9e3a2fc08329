//! The LAC's answers to the LNS's session messages (RFC 2661 7.4.1 incoming calls, 7.4.2
//! outgoing calls): ICRP, CDN, OCRQ, SLI.

use super::{CallState, DenyReason, Lac};
use crate::l2tp::session::SessionState;
use crate::l2tp::tunnel::{Timer, type_within};
use crate::l2tp::wire::avp::AvpValue;
use crate::l2tp::wire::{Avp, AvpType, ControlMessage, MessageType, ResultCode, ResultCodeValue};
use crate::l2tp::{Event, SessionRef};
use std::num::NonZeroU16;
use std::time::Instant;

impl Lac {
    /// The Framing Type of a call on tunnel `tid` (ICCN, OCCN): `preferred` if the LNS's Framing
    /// Capabilities include it, else the other type they include (RFC 2661 4.4.3 Framing
    /// Capabilities, 4.4.4 Framing Type). An LNS that advertised neither is sent `preferred`
    /// (synchronous if `preferred` names no single type): there is no type within nothing.
    fn framing_type(&self, tid: u16, preferred: u32) -> u32 {
        let caps = self
            .core
            .tunnels
            .get(&tid)
            .map_or(0, |t| t.peer_framing_capabilities);
        type_within(caps, preferred).unwrap_or(if preferred == 1 || preferred == 2 {
            preferred
        } else {
            1
        })
    }

    pub(super) fn session_msg(
        &mut self,
        now: Instant,
        sref: SessionRef,
        m: ControlMessage<'static>,
    ) {
        let tid = sref.tunnel;
        match m.message_type() {
            Some(MessageType::ICRP) => self.on_icrp(now, sref, &m),
            Some(MessageType::CDN) => self.on_cdn(now, sref, &m),
            Some(MessageType::OCRQ) => self.on_ocrq(now, tid, &m),
            // RFC 2661 6.14: SLI goes from the LNS to the LAC, with the ACCM to use.
            Some(MessageType::SLI) => {
                if let Some(AvpValue::Accm { send, receive }) = m.get(AvpType::ACCM) {
                    let (send_accm, receive_accm) = (*send, *receive);
                    self.core.event(Event::Sli {
                        session: sref,
                        send_accm,
                        receive_accm,
                    });
                }
            }
            // RFC 2661 6.13: WEN goes from the LAC to the LNS; one arriving here names no WAN
            // errors of ours to report. The channel acknowledged it; it is ignored (the RFC
            // gives the receiver no other duty).
            _ => {}
        }
    }

    /// ICRP (RFC 2661 7.4.1 wait-reply): with `RedirectTarget` (and redirects advertised) the
    /// session is cleared (CDN Result 3) and the call goes to the target; otherwise ICCN is sent
    /// and the call is established.
    fn on_icrp(&mut self, now: Instant, sref: SessionRef, m: &ControlMessage<'static>) {
        let (tid, sid) = (sref.tunnel, sref.session);
        let Some(s) = self.core.session_mut(tid, sid) else {
            return;
        };
        if s.state != SessionState::WaitReply {
            return;
        }
        s.peer_id = m.assigned_session_id().and_then(NonZeroU16::new);
        let call = s.call;
        // A target a call cannot go to is no redirect (`route::redirectable`): the call goes on.
        let target = m
            .redirect_target(self.cfg.common.enterprise)
            .filter(super::route::redirectable);
        if let (Some(to), Some(id), true) = (target, call, self.cfg.advertise_load_balance) {
            let rc = ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE);
            self.core.disconnect(now, tid, sid, rc);
            self.redirect(now, id, to, None);
            return;
        }
        let details = call
            .and_then(|id| self.calls.get(&id))
            .and_then(|c| c.details.clone());
        let d = details.as_deref();
        let seq = self.cfg.common.sequencing_required
            || m.sequencing_required()
            || d.is_some_and(|d| d.sequencing_required);
        let Some(s) = self.core.session_mut(tid, sid) else {
            return;
        };
        s.state = SessionState::Established;
        s.sequencing = seq;
        s.sequencing_required = seq;
        let peer_id = s.peer_header_id();
        self.core.timers.disarm(&Timer::Session(tid, sid));
        let preferred = d.and_then(|d| d.framing_type).map_or(1, |f| f.0);
        let framing = self.framing_type(tid, preferred);
        let speed = d.and_then(|d| d.tx_connect_speed).unwrap_or(64000);
        let mut iccn = ControlMessage::iccn(0, peer_id, speed, framing);
        if seq {
            iccn.push(Avp::mandatory(AvpValue::SequencingRequired));
        }
        if let Some(d) = d {
            // Checked by `open_call`: every detail fits.
            let _ = d.emit(&mut iccn);
        }
        self.core.send_ctrl(now, tid, iccn);
        if let Some(id) = call {
            self.set_state(id, CallState::Established(sref));
        }
        self.core.session_up(tid, sid, call);
    }

    /// CDN (RFC 2661 6.12): a call not yet up follows a redirecting result (Error 9, Error 7);
    /// otherwise the session and its call end.
    fn on_cdn(&mut self, now: Instant, sref: SessionRef, m: &ControlMessage<'static>) {
        let Some((s, result)) = self.core.on_cdn(now, sref.tunnel, m) else {
            return;
        };
        let Some(id) = s.call else {
            self.core.session_down(Some(sref), None, result);
            return;
        };
        let target = if s.state == SessionState::Established {
            None
        } else {
            self.redirect_target(id, None, result.as_ref())
        };
        let has_plan = self.calls.get(&id).is_some_and(|c| c.plan.is_some());
        match target {
            Some(to) => self.redirect(now, id, to, result),
            None if has_plan && s.state != SessionState::Established => {
                let busy = result
                    .as_ref()
                    .map(|r| r.result)
                    .filter(|r| super::BUSY.contains(&r.0))
                    .map(DenyReason::Busy);
                self.call_failed(now, id, result, busy);
            }
            None => {
                self.calls.remove(&id);
                self.core.session_down(Some(sref), Some(id), result);
            }
        }
    }

    /// OCRQ (RFC 2661 7.4.2, outgoing call at the LAC): OCRP and OCCN at once (the call is
    /// placed locally), or CDN Result 4 when the session tables are full.
    fn on_ocrq(&mut self, now: Instant, tid: u16, m: &ControlMessage<'static>) {
        let peer_sid = m.assigned_session_id().unwrap_or(0);
        let serial = m.call_serial_number().unwrap_or(0);
        let sequencing = self.cfg.common.sequencing_required;
        let Some(s) = self
            .core
            .new_session(tid, peer_sid, SessionState::Established, serial)
        else {
            let rc = ResultCode::new(ResultCodeValue::CDN_TEMPORARY_RESOURCES);
            self.core
                .send_ctrl(now, tid, ControlMessage::cdn(0, peer_sid, 0, rc));
            return;
        };
        s.sequencing = sequencing;
        s.sequencing_required = sequencing;
        let sid = s.local_id;
        // RFC 2661 4.4.4: the OCCN's Framing Type is the call's: the one the OCRQ asked for,
        // within the LNS's Framing Capabilities.
        let asked = match m.get(AvpType::FRAMING_TYPE) {
            Some(AvpValue::FramingType(v)) => *v,
            _ => 1,
        };
        let framing = self.framing_type(tid, asked);
        self.core
            .send_ctrl(now, tid, ControlMessage::ocrp(0, peer_sid, sid));
        self.core
            .send_ctrl(now, tid, ControlMessage::occn(0, peer_sid, 64000, framing));
        self.core.session_up(tid, sid, None);
    }
}
