//! Session state (RFC 2661 section 7.4 and 7.5 state machines, incoming and outgoing calls) and
//! data-message sequencing.

use super::wire::DataMessage;
use std::borrow::Cow;
use std::num::NonZeroU16;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// LAC: ICRQ sent, waiting for ICRP.
    WaitReply,
    /// LNS: ICRP sent, waiting for ICCN.
    WaitConnect,
    /// LNS: OCRQ sent, waiting for OCRP.
    WaitOutgoingReply,
    /// LNS: OCRP received, waiting for OCCN.
    WaitOutgoingConnect,
    /// Established: data flows.
    Established,
    /// Contact LNS: ICRP with RedirectTarget sent; waiting for the LAC's CDN (or the short timer).
    Redirected,
}

/// One session of a tunnel.
#[derive(Debug, Clone)]
pub struct Session {
    /// Our Session ID (the peer puts it in headers).
    pub local_id: u16,
    /// The peer's Session ID, once its Assigned Session ID AVP arrived (RFC 2661 4.4.4: the id
    /// is non-zero).
    pub peer_id: Option<NonZeroU16>,
    /// State.
    pub state: SessionState,
    /// Call Serial Number.
    pub serial: u32,
    /// Data messages carry Ns/Nr (Sequencing Required, or configured).
    pub sequencing: bool,
    /// The peer said it can be redirected (LoadBalanceCapable in ICRQ or SCCRQ).
    pub load_balance_capable: bool,
    /// Next data Ns to send.
    pub data_ns: u16,
    /// Next data Ns expected.
    pub data_nr: u16,
    /// The LAC's call handle, if any.
    pub call: Option<super::CallId>,
    /// LNS with [`LnsConfig::admission`](super::LnsConfig::admission): the pending admission
    /// decision of this call while the caller has neither accepted nor refused it (no ICRP sent
    /// yet; see [`Event::IncomingCall`](super::Event::IncomingCall)).
    pub admission: Option<super::AdmissionId>,
    /// LNS with admission: the ICRQ's call details, kept from ICRQ until the ICCN's are merged
    /// into them ([`Event::CallConnected`](super::Event::CallConnected)).
    pub details: Option<Box<super::CallDetails>>,
    /// PPP frames sent (data messages built).
    pub frames_sent: u64,
    /// PPP frames received (data messages accepted).
    pub frames_received: u64,
}

impl Session {
    /// A new session; `peer_id` 0 while the peer has not assigned its Session ID.
    pub fn new(local_id: u16, peer_id: u16, state: SessionState, serial: u32) -> Self {
        Session {
            local_id,
            peer_id: NonZeroU16::new(peer_id),
            state,
            serial,
            sequencing: false,
            load_balance_capable: false,
            data_ns: 0,
            data_nr: 0,
            call: None,
            admission: None,
            details: None,
            frames_sent: 0,
            frames_received: 0,
        }
    }

    /// The Session ID for headers to the peer: its assigned id, or 0 while it has none (RFC 2661
    /// 3.1: a message for a session whose peer id is not yet known carries Session ID 0).
    pub fn peer_header_id(&self) -> u16 {
        self.peer_id.map_or(0, NonZeroU16::get)
    }

    /// Builds the data message for `frame` to the peer (sequenced when required).
    pub fn data_message<'a>(&mut self, peer_tunnel: u16, frame: &'a [u8]) -> DataMessage<'a> {
        self.frames_sent = self.frames_sent.saturating_add(1);
        let mut d = DataMessage::new(peer_tunnel, self.peer_header_id(), Cow::Borrowed(frame));
        if self.sequencing {
            d.header.sequence = Some((self.data_ns, self.data_nr));
            self.data_ns = self.data_ns.wrapping_add(1);
        }
        d
    }

    /// Accepts a received data message's sequence number: `false` for a duplicate or late one
    /// (dropped, RFC 2661 5.8 allows it for data).
    pub fn accept_data(&mut self, seq: Option<(u16, u16)>) -> bool {
        let accepted = self.in_sequence(seq);
        if accepted {
            self.frames_received = self.frames_received.saturating_add(1);
        }
        accepted
    }

    fn in_sequence(&mut self, seq: Option<(u16, u16)>) -> bool {
        match seq {
            Some((ns, _)) if self.sequencing => {
                if super::channel::seq_lt(ns, self.data_nr) {
                    return false;
                }
                self.data_nr = ns.wrapping_add(1);
                true
            }
            _ => true,
        }
    }
}
