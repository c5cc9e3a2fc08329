//! The details of an incoming call, typed: what the LAC says about the call in its ICRQ (RFC 2661
//! 4.4.5, 6.6) and ICCN (4.4.5, 4.4.6, 6.8), proxy LCP and proxy authentication included.
//!
//! An LNS reads them with [`CallDetails::from_message`] (and [`CallDetails::merge`]s the ICCN's
//! into the ICRQ's); a LAC writes them into its ICRQ and ICCN with [`CallDetails::emit`] (or takes
//! the AVPs with [`CallDetails::to_avps`]).
//!
//! | Field | AVP | Message | M bit |
//! | --- | --- | --- | --- |
//! | [`bearer_type`](CallDetails::bearer_type) | 18 Bearer Type | ICRQ | 1 |
//! | [`physical_channel_id`](CallDetails::physical_channel_id) | 25 Physical Channel ID | ICRQ | 0 |
//! | [`calling_number`](CallDetails::calling_number) | 22 Calling Number | ICRQ | 1 |
//! | [`called_number`](CallDetails::called_number) | 21 Called Number | ICRQ | 1 |
//! | [`sub_address`](CallDetails::sub_address) | 23 Sub-Address | ICRQ | 1 |
//! | [`tx_connect_speed`](CallDetails::tx_connect_speed) | 24 (Tx) Connect Speed | ICCN | 1 |
//! | [`framing_type`](CallDetails::framing_type) | 19 Framing Type | ICCN | 1 |
//! | [`proxy_lcp`](CallDetails::proxy_lcp) | 26, 27, 28 Initial Received / Last Sent / Last Received LCP CONFREQ | ICCN | 0 |
//! | [`proxy_auth`](CallDetails::proxy_auth) | 29 to 33 Proxy Authen Type, Name, Challenge, ID, Response | ICCN | 0 |
//! | [`private_group_id`](CallDetails::private_group_id) | 37 Private Group ID | ICCN | 0 |
//! | [`rx_connect_speed`](CallDetails::rx_connect_speed) | 38 Rx Connect Speed | ICCN | 0 |
//! | [`sequencing_required`](CallDetails::sequencing_required) | 39 Sequencing Required | ICCN | 1 |

use super::wire::avp::{Avp, AvpType, AvpValue, MAX_VALUE_LEN};
use super::wire::message::{ControlMessage, MessageType};
use std::borrow::Cow;

/// Bearer Type (AVP 18, RFC 2661 4.4.5; 4 octets): the kind of line the call came in on. Open:
/// other bits survive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BearerType(pub u32);

impl BearerType {
    /// Bit 0x1 (D): a digital line.
    pub const DIGITAL: u32 = 0x1;
    /// Bit 0x2 (A): an analog line.
    pub const ANALOG: u32 = 0x2;

    /// The call came in on a digital line.
    pub fn digital(self) -> bool {
        self.0 & Self::DIGITAL != 0
    }

    /// The call came in on an analog line.
    pub fn analog(self) -> bool {
        self.0 & Self::ANALOG != 0
    }
}

/// Framing Type (AVP 19, RFC 2661 4.4.5; 4 octets): the PPP framing of the call. Open: other bits
/// survive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FramingType(pub u32);

impl FramingType {
    /// Bit 0x1 (S): synchronous framing.
    pub const SYNCHRONOUS: u32 = 0x1;
    /// Bit 0x2 (A): asynchronous framing.
    pub const ASYNCHRONOUS: u32 = 0x2;

    /// Synchronous framing.
    pub fn synchronous(self) -> bool {
        self.0 & Self::SYNCHRONOUS != 0
    }

    /// Asynchronous framing.
    pub fn asynchronous(self) -> bool {
        self.0 & Self::ASYNCHRONOUS != 0
    }
}

crate::io::reader::code_point! {
    /// Proxy Authen Type (AVP 29, RFC 2661 4.4.5; 2 octets): the authentication the LAC ran with
    /// the PPP peer on the LNS's behalf (an open code point).
    ProxyAuthenType(u16) {
        /// 0: reserved.
        RESERVED = 0,
        /// 1: textual username/password exchange.
        TEXTUAL = 1,
        /// 2: PPP CHAP.
        CHAP = 2,
        /// 3: PPP PAP.
        PAP = 3,
        /// 4: no authentication.
        NONE = 4,
        /// 5: Microsoft CHAP version 1 (MSCHAPv1).
        MSCHAP_V1 = 5,
    }
}

/// The proxy LCP AVPs (26, 27, 28; RFC 2661 4.4.5, ICCN, M=0): the LCP Configure-Requests the LAC
/// exchanged with the PPP peer, each value the CONFREQ's options (from the first option, without
/// the LCP header), so that the LNS may skip LCP negotiation.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ProxyLcp {
    /// 26 Initial Received LCP CONFREQ: the first CONFREQ the LAC received from the PPP peer.
    pub initial_received: Option<Vec<u8>>,
    /// 27 Last Sent LCP CONFREQ: the last CONFREQ the LAC sent to the PPP peer.
    pub last_sent: Option<Vec<u8>>,
    /// 28 Last Received LCP CONFREQ: the last CONFREQ the LAC received from the PPP peer.
    pub last_received: Option<Vec<u8>>,
}

impl ProxyLcp {
    /// No proxy LCP AVP at all.
    pub fn is_empty(&self) -> bool {
        self.initial_received.is_none() && self.last_sent.is_none() && self.last_received.is_none()
    }
}

/// The proxy authentication AVPs (29 to 33; RFC 2661 4.4.5, ICCN, M=0): what the PPP peer said
/// when the LAC authenticated it, so that the LNS (or its RADIUS server) can check it. `Debug`
/// shows the response's length only (a PAP password, or a CHAP response).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ProxyAuth {
    /// 29 Proxy Authen Type.
    pub kind: ProxyAuthenType,
    /// 30 Proxy Authen Name: the name the peer gave.
    pub name: Option<Vec<u8>>,
    /// 31 Proxy Authen Challenge: the CHAP challenge the LAC sent.
    pub challenge: Option<Vec<u8>>,
    /// 32 Proxy Authen ID: the CHAP/PAP identifier (the low octet of the 2-octet value).
    pub id: Option<u8>,
    /// 33 Proxy Authen Response: the CHAP response, or the PAP password.
    pub response: Option<Vec<u8>>,
}

impl std::fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ProxyAuth {
            kind,
            name,
            challenge,
            id,
            response,
        } = self;
        f.debug_struct("ProxyAuth")
            .field("kind", kind)
            .field("name", name)
            .field("challenge", challenge)
            .field("id", id)
            .field("response", &super::tunnel::Redacted(response.as_deref()))
            .finish()
    }
}

impl Default for ProxyAuthenType {
    fn default() -> Self {
        Self::NONE
    }
}

/// The details of a call as the LAC gives them in ICRQ and ICCN (RFC 2661 4.4.5, 4.4.6). Every
/// field is optional on the wire; absent is `None` (or `false`, empty). Octet strings are kept as
/// sent (not NUL-terminated, no character set assumed).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct CallDetails {
    /// 22 Calling Number (ICRQ): the number the call came from (e.g. the subscriber's line id).
    pub calling_number: Option<Vec<u8>>,
    /// 21 Called Number (ICRQ): the number that was called.
    pub called_number: Option<Vec<u8>>,
    /// 23 Sub-Address (ICRQ).
    pub sub_address: Option<Vec<u8>>,
    /// 18 Bearer Type (ICRQ).
    pub bearer_type: Option<BearerType>,
    /// 25 Physical Channel ID (ICRQ): the LAC's own channel number, opaque to the LNS.
    pub physical_channel_id: Option<u32>,
    /// 19 Framing Type (ICCN).
    pub framing_type: Option<FramingType>,
    /// 24 (Tx) Connect Speed (ICCN), bits per second: from the LAC towards the PPP peer (or both
    /// ways when no Rx Connect Speed is given).
    pub tx_connect_speed: Option<u32>,
    /// 38 Rx Connect Speed (ICCN), bits per second: from the PPP peer towards the LAC.
    pub rx_connect_speed: Option<u32>,
    /// 37 Private Group ID (ICCN): a group the LNS may use to treat the call (e.g. a VPN).
    pub private_group_id: Option<Vec<u8>>,
    /// 39 Sequencing Required (ICCN): the LAC wants sequence numbers on the session's data
    /// messages both ways (RFC 2661 5.4).
    pub sequencing_required: bool,
    /// 26 to 28: proxy LCP (ICCN).
    pub proxy_lcp: ProxyLcp,
    /// 29 to 33: proxy authentication (ICCN); `None` without a Proxy Authen Type AVP.
    pub proxy_auth: Option<ProxyAuth>,
}

/// Call details packed as the replication codec writes them ([`crate::l2tp::replica`] docs,
/// call details: an item count, then each field present as its AVP's type and value, in type
/// order), the fields of [`CallDetails::replicable`] only: what an LNS keeps for each of its
/// sessions ([`crate::l2tp::session::Session::details`]) and a backup for each session it
/// holds, a few octets more than the values themselves (a BRAS call with a 23-octet circuit id
/// as Calling Number, a 21-octet Called Number, Bearer and Framing Types and both Connect
/// Speeds: 71 octets), where the typed [`CallDetails`] takes some 300 before its values. Read
/// with [`PackedCallDetails::unpack`]. One allocation behind an 8-octet handle, shared by
/// its clones (a clone is a reference count, not a copy: the record that replicates a call's
/// details shares the session's). The allocation holds one octet before the block: the rank of
/// its last item's type in the block's type order (0 without items), so that a merge knows
/// where the later block's items go without walking this one
/// ([`PackedCallDetails::merged`]).
#[derive(Clone)]
pub struct PackedCallDetails(triomphe::ThinArc<(), u8>);

impl PartialEq for PackedCallDetails {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PackedCallDetails {}

impl std::hash::Hash for PackedCallDetails {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::fmt::Debug for PackedCallDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PackedCallDetails")
            .field(&self.as_bytes())
            .finish()
    }
}

impl PackedCallDetails {
    /// The replicable fields of `d` ([`CallDetails::replicable`]), packed (an octet string
    /// longer than [`MAX_VALUE_LEN`], which no AVP carries, is cut there).
    pub fn new(d: &CallDetails) -> PackedCallDetails {
        super::replica::pack_slots(&super::replica::detail_slots(d))
    }

    /// The replicable details `msg` carries (an ICRQ or ICCN), packed: those of
    /// [`CallDetails::from_message`] then [`CallDetails::replicable`], read in place (no
    /// typed details built).
    pub fn from_message(msg: &ControlMessage<'_>) -> PackedCallDetails {
        super::replica::pack_message(msg)
    }

    /// Packed octets already checked by the codec, whose last item's type has rank `last`
    /// (`replica` docs, call details; 0 without items).
    pub(crate) fn from_checked(b: &[u8], last: usize) -> PackedCallDetails {
        let mut out = super::replica::PackBuf::new();
        if out.try_push(last as u8).is_ok() && out.try_extend_from_slice(b).is_ok() {
            return PackedCallDetails::from_ranked(&out);
        }
        let mut v = Vec::with_capacity(1 + b.len());
        v.push(last as u8);
        v.extend_from_slice(b);
        PackedCallDetails::from_ranked(&v)
    }

    /// A block made here, `ranked` its last item's rank octet then the block itself.
    pub(crate) fn from_ranked(ranked: &[u8]) -> PackedCallDetails {
        PackedCallDetails(triomphe::ThinArc::from_header_and_slice((), ranked))
    }

    /// The rank of the last item's type ([`PackedCallDetails`] docs; 0 without items).
    pub(crate) fn last_rank(&self) -> usize {
        usize::from(self.0.slice.first().copied().unwrap_or(0))
    }

    /// The details (their replicable fields).
    pub fn unpack(&self) -> CallDetails {
        let mut r = crate::io::Reader::new(self.as_bytes());
        // Written by `new` or checked by the codec: always valid.
        super::replica::read_details(&mut r).unwrap_or_default()
    }

    /// No field at all.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().first().is_none_or(|n| *n == 0)
    }

    /// The packed octets (`replica` docs, call details).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.slice.get(1..).unwrap_or_default()
    }

    /// These details with `later`'s merged in, as [`CallDetails::merge`] merges (packed as
    /// they are, no typed details built).
    pub fn merged(&self, later: &PackedCallDetails) -> PackedCallDetails {
        super::replica::merge_packed(self, later)
    }
}

/// A call detail too long to be sent in one AVP (more than [`MAX_VALUE_LEN`] octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[error("{attr} value longer than {MAX_VALUE_LEN} octets")]
pub struct CallDetailsTooLong {
    /// The attribute type that does not fit.
    pub attr: AvpType,
}

fn owned(b: &[u8]) -> Option<Vec<u8>> {
    Some(b.to_vec())
}

impl CallDetails {
    /// The details carried by `msg` (any message; in practice an ICRQ or ICCN). The first AVP of
    /// each type counts; hidden AVPs left unrevealed and unknown ones are ignored.
    pub fn from_message(msg: &ControlMessage<'_>) -> CallDetails {
        let mut d = CallDetails::default();
        let mut auth: Option<ProxyAuth> = None;
        let mut pending = ProxyAuth::default();
        for avp in &msg.avps {
            if !avp.value.is_recognised() || avp.value.key().0 != 0 {
                continue;
            }
            match &avp.value {
                AvpValue::CallingNumber(b) if d.calling_number.is_none() => {
                    d.calling_number = owned(b)
                }
                AvpValue::CalledNumber(b) if d.called_number.is_none() => {
                    d.called_number = owned(b)
                }
                AvpValue::SubAddress(b) if d.sub_address.is_none() => d.sub_address = owned(b),
                AvpValue::BearerType(v) if d.bearer_type.is_none() => {
                    d.bearer_type = Some(BearerType(*v))
                }
                AvpValue::PhysicalChannelId(v) if d.physical_channel_id.is_none() => {
                    d.physical_channel_id = Some(*v)
                }
                AvpValue::FramingType(v) if d.framing_type.is_none() => {
                    d.framing_type = Some(FramingType(*v))
                }
                AvpValue::TxConnectSpeed(v) if d.tx_connect_speed.is_none() => {
                    d.tx_connect_speed = Some(*v)
                }
                AvpValue::RxConnectSpeed(v) if d.rx_connect_speed.is_none() => {
                    d.rx_connect_speed = Some(*v)
                }
                AvpValue::PrivateGroupId(b) if d.private_group_id.is_none() => {
                    d.private_group_id = owned(b)
                }
                AvpValue::SequencingRequired => d.sequencing_required = true,
                AvpValue::InitialReceivedLcpConfreq(b)
                    if d.proxy_lcp.initial_received.is_none() =>
                {
                    d.proxy_lcp.initial_received = owned(b)
                }
                AvpValue::LastSentLcpConfreq(b) if d.proxy_lcp.last_sent.is_none() => {
                    d.proxy_lcp.last_sent = owned(b)
                }
                AvpValue::LastReceivedLcpConfreq(b) if d.proxy_lcp.last_received.is_none() => {
                    d.proxy_lcp.last_received = owned(b)
                }
                AvpValue::ProxyAuthenType(v) if auth.is_none() => {
                    auth = Some(ProxyAuth {
                        kind: ProxyAuthenType(*v),
                        ..ProxyAuth::default()
                    })
                }
                AvpValue::ProxyAuthenName(b) if pending.name.is_none() => pending.name = owned(b),
                AvpValue::ProxyAuthenChallenge(b) if pending.challenge.is_none() => {
                    pending.challenge = owned(b)
                }
                AvpValue::ProxyAuthenId(v) if pending.id.is_none() => pending.id = Some(*v as u8),
                AvpValue::ProxyAuthenResponse(b) if pending.response.is_none() => {
                    pending.response = owned(b)
                }
                _ => {}
            }
        }
        d.proxy_auth = auth.map(|a| ProxyAuth {
            kind: a.kind,
            ..pending
        });
        d
    }

    /// Merges the details of a later message (the ICCN's into the ICRQ's): every field `later`
    /// has replaces ours; `sequencing_required` is set if either says so.
    pub fn merge(&mut self, later: CallDetails) {
        fn take<T>(ours: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *ours = theirs;
            }
        }
        take(&mut self.calling_number, later.calling_number);
        take(&mut self.called_number, later.called_number);
        take(&mut self.sub_address, later.sub_address);
        take(&mut self.bearer_type, later.bearer_type);
        take(&mut self.physical_channel_id, later.physical_channel_id);
        take(&mut self.framing_type, later.framing_type);
        take(&mut self.tx_connect_speed, later.tx_connect_speed);
        take(&mut self.rx_connect_speed, later.rx_connect_speed);
        take(&mut self.private_group_id, later.private_group_id);
        self.sequencing_required |= later.sequencing_required;
        take(
            &mut self.proxy_lcp.initial_received,
            later.proxy_lcp.initial_received,
        );
        take(&mut self.proxy_lcp.last_sent, later.proxy_lcp.last_sent);
        take(
            &mut self.proxy_lcp.last_received,
            later.proxy_lcp.last_received,
        );
        take(&mut self.proxy_auth, later.proxy_auth);
    }

    /// The AVPs of these details that belong in a message of type `mt` (RFC 2661 6.6 ICRQ: Bearer
    /// Type, Physical Channel ID, Calling Number, Called Number, Sub-Address; 6.8 ICCN: (Tx)
    /// Connect Speed, Framing Type, the proxy LCP and authentication AVPs, Private Group ID, Rx
    /// Connect Speed, Sequencing Required), in that order, with the M bit of the table above.
    /// Other message types get none.
    ///
    /// # Errors
    /// [`CallDetailsTooLong`] when an octet string is longer than [`MAX_VALUE_LEN`].
    pub fn to_avps(&self, mt: MessageType) -> Result<Vec<Avp<'static>>, CallDetailsTooLong> {
        use AvpValue as V;
        let b = |v: &Option<Vec<u8>>, f: fn(Cow<'static, [u8]>) -> AvpValue<'static>| {
            v.clone().map(|o| f(Cow::Owned(o)))
        };
        let (mandatory, optional): (
            Vec<Option<AvpValue<'static>>>,
            Vec<Option<AvpValue<'static>>>,
        );
        if mt == MessageType::ICRQ {
            mandatory = vec![
                self.bearer_type.map(|t| V::BearerType(t.0)),
                b(&self.calling_number, V::CallingNumber),
                b(&self.called_number, V::CalledNumber),
                b(&self.sub_address, V::SubAddress),
            ];
            optional = vec![self.physical_channel_id.map(V::PhysicalChannelId)];
        } else if mt == MessageType::ICCN {
            mandatory = vec![
                self.tx_connect_speed.map(V::TxConnectSpeed),
                self.framing_type.map(|t| V::FramingType(t.0)),
                self.sequencing_required.then_some(V::SequencingRequired),
            ];
            let a = self.proxy_auth.as_ref();
            optional = vec![
                b(
                    &self.proxy_lcp.initial_received,
                    V::InitialReceivedLcpConfreq,
                ),
                b(&self.proxy_lcp.last_sent, V::LastSentLcpConfreq),
                b(&self.proxy_lcp.last_received, V::LastReceivedLcpConfreq),
                a.map(|a| V::ProxyAuthenType(a.kind.0)),
                a.and_then(|a| b(&a.name, V::ProxyAuthenName)),
                a.and_then(|a| b(&a.challenge, V::ProxyAuthenChallenge)),
                a.and_then(|a| a.id.map(|i| V::ProxyAuthenId(u16::from(i)))),
                a.and_then(|a| b(&a.response, V::ProxyAuthenResponse)),
                b(&self.private_group_id, V::PrivateGroupId),
                self.rx_connect_speed.map(V::RxConnectSpeed),
            ];
        } else {
            return Ok(Vec::new());
        }
        let avps: Vec<Avp<'static>> = (mandatory.into_iter().flatten().map(Avp::mandatory))
            .chain(optional.into_iter().flatten().map(Avp::optional))
            .collect();
        match avps.iter().find(|a| a.value.value_len() > MAX_VALUE_LEN) {
            Some(a) => Err(CallDetailsTooLong { attr: a.key().1 }),
            None => Ok(avps),
        }
    }

    /// Whether no detail is given (every field absent).
    pub fn is_empty(&self) -> bool {
        *self == CallDetails::default()
    }

    /// The details an LNS keeps for an established call and replicates to its backup
    /// ([`crate::l2tp::replica`] docs, call details): all but the proxy LCP and the proxy
    /// authentication's challenge, ID and response. A PAP response is the user's password in
    /// clear, and the replication channel is authenticated, not encrypted: secrets never leave
    /// in clear; both only serve the start of PPP, which is over when the call is connected. The
    /// proxy authentication's type and name (the user name) stay.
    pub fn replicable(mut self) -> CallDetails {
        self.proxy_lcp = ProxyLcp::default();
        if let Some(a) = self.proxy_auth.as_mut() {
            (a.challenge, a.id, a.response) = (None, None, None);
        }
        self
    }

    /// Appends to `msg` (an ICRQ or ICCN) the AVPs of [`to_avps`](Self::to_avps) for its type
    /// that it does not already carry (so that `ControlMessage::iccn`'s own Connect Speed and
    /// Framing Type are not doubled).
    ///
    /// # Errors
    /// [`CallDetailsTooLong`], `msg` unchanged.
    pub fn emit(&self, msg: &mut ControlMessage<'_>) -> Result<(), CallDetailsTooLong> {
        let Some(mt) = msg.message_type() else {
            return Ok(());
        };
        let avps = self.to_avps(mt)?;
        for a in avps {
            if !msg.avps.iter().any(|have| have.key() == a.key()) {
                msg.push(a);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `PackedCallDetails` docs: an 8-octet handle (a session keeps `Option` of it in 8
    /// octets), whose clones share the one allocation (the replicated record's).
    #[test]
    fn packed_details_are_one_handle_shared_by_clones() {
        assert_eq!(size_of::<Option<PackedCallDetails>>(), 8);
        let d = CallDetails {
            calling_number: Some(b"0123456789".to_vec()),
            ..CallDetails::default()
        };
        let a = PackedCallDetails::new(&d);
        let b = a.clone();
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        assert_eq!(b.unpack(), d);
        drop(a);
        assert_eq!(b.unpack(), d);
    }

    fn full() -> CallDetails {
        CallDetails {
            calling_number: Some(b"0123456789".to_vec()),
            called_number: Some(b"5551212".to_vec()),
            sub_address: Some(b"7".to_vec()),
            bearer_type: Some(BearerType(BearerType::ANALOG)),
            physical_channel_id: Some(42),
            framing_type: Some(FramingType(FramingType::SYNCHRONOUS)),
            tx_connect_speed: Some(10_000_000),
            rx_connect_speed: Some(2_000_000),
            private_group_id: Some(b"vpn-a".to_vec()),
            sequencing_required: true,
            proxy_lcp: ProxyLcp {
                initial_received: Some(vec![1, 4, 5, 0xdc]),
                last_sent: Some(vec![3, 5, 0xc2, 0x23, 5]),
                last_received: Some(vec![1, 4, 5, 0xd4]),
            },
            proxy_auth: Some(ProxyAuth {
                kind: ProxyAuthenType::CHAP,
                name: Some(b"alice@isp".to_vec()),
                challenge: Some(vec![9; 16]),
                id: Some(0x2a),
                response: Some(vec![7; 16]),
            }),
        }
    }

    /// Emit into an ICRQ and an ICCN, encode, parse, read back, merge: every field survives.
    #[test]
    fn details_round_trip_through_icrq_and_iccn() {
        let d = full();
        let mut icrq = ControlMessage::icrq(1, 2, 3);
        d.emit(&mut icrq).unwrap();
        let mut iccn = ControlMessage::iccn(1, 2, 10_000_000, FramingType::SYNCHRONOUS);
        d.emit(&mut iccn).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        super::super::wire::Message::Control(icrq).emit(&mut a);
        super::super::wire::Message::Control(iccn).emit(&mut b);
        let (super::super::wire::Message::Control(q), super::super::wire::Message::Control(n)) = (
            super::super::wire::Message::parse(&a).unwrap(),
            super::super::wire::Message::parse(&b).unwrap(),
        ) else {
            panic!("control messages expected")
        };
        let mut got = CallDetails::from_message(&q);
        assert_eq!(got.calling_number.as_deref(), Some(&b"0123456789"[..]));
        assert!(got.framing_type.is_none() && got.proxy_auth.is_none());
        got.merge(CallDetails::from_message(&n));
        assert_eq!(got, d);
        // Connect Speed and Framing Type not doubled by emit.
        let count = n
            .avps
            .iter()
            .filter(|a| a.key() == (0, AvpType::FRAMING_TYPE))
            .count();
        assert_eq!(count, 1);
    }

    /// RFC 2661 4.4.5: M=1 on Bearer Type, Calling/Called Number, Sub-Address, Connect Speed,
    /// Framing Type, Sequencing Required; M=0 on Physical Channel ID, the proxy AVPs, Private
    /// Group ID, Rx Connect Speed.
    #[test]
    fn mandatory_bits_follow_rfc_2661() {
        let d = full();
        let all = [MessageType::ICRQ, MessageType::ICCN]
            .into_iter()
            .flat_map(|mt| d.to_avps(mt).unwrap());
        for a in all {
            let t = a.key().1;
            let want = matches!(
                t,
                AvpType::BEARER_TYPE
                    | AvpType::CALLING_NUMBER
                    | AvpType::CALLED_NUMBER
                    | AvpType::SUB_ADDRESS
                    | AvpType::TX_CONNECT_SPEED
                    | AvpType::FRAMING_TYPE
                    | AvpType::SEQUENCING_REQUIRED
            );
            assert_eq!(a.mandatory, want, "{t}");
        }
        assert!(d.to_avps(MessageType::CDN).unwrap().is_empty());
    }

    #[test]
    fn too_long_a_value_is_a_typed_error() {
        let d = CallDetails {
            calling_number: Some(vec![b'1'; MAX_VALUE_LEN + 1]),
            ..CallDetails::default()
        };
        let mut icrq = ControlMessage::icrq(1, 2, 3);
        let before = icrq.clone();
        assert_eq!(
            d.emit(&mut icrq),
            Err(CallDetailsTooLong {
                attr: AvpType::CALLING_NUMBER
            })
        );
        assert_eq!(icrq, before);
    }

    /// `PackedCallDetails` docs: a BRAS call's details (a 23-octet circuit id as Calling
    /// Number, a 21-octet Called Number, Bearer and Framing Types, both Connect Speeds) pack into
    /// 71 octets (1 + 5 + 5 + 24 + 26 + 5 + 5), which unpack to the same; the proxy secrets are
    /// not packed (`replicable`).
    #[test]
    fn packed_details_are_small_and_unpack_to_the_replicable_fields() {
        let d = CallDetails {
            calling_number: Some(b"bras1 eth 0/1/2:100.200".to_vec()),
            called_number: Some(b"broadband.isp.example".to_vec()),
            bearer_type: Some(BearerType(BearerType::DIGITAL)),
            framing_type: Some(FramingType(FramingType::SYNCHRONOUS)),
            tx_connect_speed: Some(100_000_000),
            rx_connect_speed: Some(20_000_000),
            ..CallDetails::default()
        };
        let p = PackedCallDetails::new(&d);
        println!("CallDetails {} octets", size_of::<CallDetails>());
        assert_eq!(p.as_bytes().len(), 71);
        assert_eq!(p.unpack(), d);
        assert!(!p.is_empty() && PackedCallDetails::new(&CallDetails::default()).is_empty());
        assert_eq!(
            PackedCallDetails::new(&full()).unpack(),
            full().replicable()
        );
        assert!(size_of::<CallDetails>() > 4 * p.as_bytes().len());
    }

    proptest::proptest! {
        /// `PackedCallDetails::merged` merges as `CallDetails::merge` does, and
        /// `PackedCallDetails::from_message` reads what `CallDetails::from_message` then
        /// `replicable` give, from an ICRQ and an ICCN carrying any details (RFC 2661 6.6, 6.8).
        #[test]
        fn packed_details_merge_and_read_as_the_typed_ones(
            a in crate::strategies::l2tp::replicable_call_details(),
            b in crate::strategies::l2tp::replicable_call_details(),
        ) {
            let mut typed = a.clone();
            typed.merge(b.clone());
            let packed = PackedCallDetails::new(&a).merged(&PackedCallDetails::new(&b));
            proptest::prop_assert_eq!(packed.unpack(), typed);
            // An ICRQ's details, then an ICCN's (the merge that appends the items).
            let icrq_of = |d: &CallDetails| CallDetails {
                calling_number: d.calling_number.clone(),
                called_number: d.called_number.clone(),
                sub_address: d.sub_address.clone(),
                bearer_type: d.bearer_type,
                physical_channel_id: d.physical_channel_id,
                ..CallDetails::default()
            };
            let (q, mut n) = (icrq_of(&a), b.clone());
            (n.calling_number, n.called_number, n.sub_address) = (None, None, None);
            (n.bearer_type, n.physical_channel_id) = (None, None);
            let mut typed = q.clone();
            typed.merge(n.clone());
            let packed = PackedCallDetails::new(&q).merged(&PackedCallDetails::new(&n));
            proptest::prop_assert_eq!(&packed, &PackedCallDetails::new(&typed));
            proptest::prop_assert_eq!(packed.unpack(), typed);
            // The merged block keeps its last item's rank (for the next merge's appending).
            proptest::prop_assert_eq!(packed.last_rank(), walked_rank(packed.as_bytes()));
            let mut icrq = ControlMessage::icrq(1, 2, 3);
            a.emit(&mut icrq).unwrap();
            let mut iccn = ControlMessage::iccn(1, 2, 10_000_000, FramingType::SYNCHRONOUS);
            b.emit(&mut iccn).unwrap();
            for m in [icrq, iccn] {
                let want = CallDetails::from_message(&m).replicable();
                proptest::prop_assert_eq!(PackedCallDetails::from_message(&m).unpack(), want);
            }
        }
    }

    /// The rank of the last item of the packed block `b` (its type's place in the block's type
    /// order), found by walking it: what `PackedCallDetails::last_rank` must keep.
    fn walked_rank(b: &[u8]) -> usize {
        let order = [18u8, 21, 22, 23, 25, 19, 24, 29, 30, 37, 38, 39];
        let (n, mut at, mut last) = (b[0], 1usize, 0usize);
        for _ in 0..n {
            let t = b[at];
            last = order.iter().position(|o| *o == t).unwrap();
            at += 1 + match t {
                29 => 2,
                39 => 0,
                21 | 22 | 23 | 30 | 37 => {
                    2 + usize::from(u16::from_be_bytes([b[at + 1], b[at + 2]]))
                }
                _ => 4,
            };
        }
        last
    }

    proptest::proptest! {
        /// An ICRQ or ICCN whose details AVPs come in any order, some twice (RFC 2661 4.1
        /// does not order AVPs after the Message Type; the first of each type counts,
        /// `CallDetails::from_message`), with a Proxy Authen Name whose Proxy Authen Type may
        /// be missing (then no proxy authentication, 4.4.5), and other AVPs between: the block
        /// packed in one pass (`PackedCallDetails::from_message`) is the one the typed details
        /// give, and it keeps its last item's rank.
        #[test]
        fn details_packed_from_avps_in_any_order_are_the_typed_ones(
            a in crate::strategies::l2tp::replicable_call_details(),
            b in crate::strategies::l2tp::replicable_call_details(),
            keys in proptest::collection::vec(proptest::prelude::any::<u16>(), 64),
            orphan_name in proptest::prelude::any::<bool>(),
            twice in proptest::prelude::any::<bool>(),
        ) {
            let mut m = ControlMessage::iccn(1, 2, 10_000_000, FramingType::SYNCHRONOUS);
            a.emit(&mut m).unwrap();
            if twice {
                b.emit(&mut m).unwrap();
            }
            if orphan_name {
                m.avps.push(Avp::optional(AvpValue::ProxyAuthenName(Cow::Borrowed(b"eve"))));
            }
            // The Message Type stays first; the others shuffled.
            let head = m.avps.remove(0);
            let mut keyed: Vec<_> = m.avps.drain(..).enumerate().map(|(i, v)| (keys[i % 64], i, v)).collect();
            keyed.sort_by_key(|(k, i, _)| (*k, *i));
            m.avps = std::iter::once(head).chain(keyed.into_iter().map(|(_, _, v)| v)).collect();
            let want = PackedCallDetails::new(&CallDetails::from_message(&m).replicable());
            let got = PackedCallDetails::from_message(&m);
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(got.last_rank(), walked_rank(want.as_bytes()));
            proptest::prop_assert_eq!(want.last_rank(), walked_rank(want.as_bytes()));
            let merged = want.merged(&PackedCallDetails::new(&b));
            proptest::prop_assert_eq!(merged.last_rank(), walked_rank(merged.as_bytes()));
        }
    }

    proptest::proptest! {
        /// An ICCN's details merged straight from the message into a call's
        /// (`replica::merge_message`, one pass) are the update `PackedCallDetails::from_message`
        /// gives and the details `PackedCallDetails::merged` then gives (RFC 2661 6.8: what the
        /// ICCN says joins what the ICRQ said), with their last items' ranks kept: for an ICRQ's
        /// details (the appending merge), any details (items of the ICCN's types too, the
        /// general merge) or none, and a message with details or without any.
        #[test]
        fn details_merged_from_a_message_are_the_update_and_its_merge(
            a in crate::strategies::l2tp::replicable_call_details(),
            b in crate::strategies::l2tp::replicable_call_details(),
            icrq_only in proptest::prelude::any::<bool>(),
            bare in proptest::prelude::any::<bool>(),
        ) {
            let mut old = a.clone();
            if icrq_only {
                old.framing_type = None;
                old.tx_connect_speed = None;
                old.rx_connect_speed = None;
                old.private_group_id = None;
                old.sequencing_required = false;
                old.proxy_auth = None;
            }
            let old = PackedCallDetails::new(&old);
            let mut m = ControlMessage::icrq(1, 2, 3);
            m.avps.truncate(1);
            if !bare {
                b.emit(&mut m).unwrap();
            }
            let update = PackedCallDetails::from_message(&m);
            for held in [None, Some(&old)] {
                let got = super::super::replica::merge_message(held, &m);
                if update.is_empty() {
                    proptest::prop_assert!(got.is_none());
                    continue;
                }
                let want = match held {
                    Some(o) => o.merged(&update),
                    None => update.clone(),
                };
                let Some((u, merged)) = got else {
                    return Err(proptest::test_runner::TestCaseError::fail("no update"));
                };
                proptest::prop_assert_eq!(&u, &update);
                proptest::prop_assert_eq!(u.last_rank(), walked_rank(u.as_bytes()));
                proptest::prop_assert_eq!(&merged, &want);
                proptest::prop_assert_eq!(merged.last_rank(), walked_rank(merged.as_bytes()));
            }
        }
    }

    /// The details AVPs are found wherever they are in a message, after hundreds of other
    /// AVPs too (a hostile or odd ICRQ: RFC 2661 puts no bound on the AVPs of a message).
    #[test]
    fn details_after_many_other_avps_are_packed() {
        let mut m = ControlMessage::icrq(1, 2, 3);
        for _ in 0..300 {
            m.avps
                .push(Avp::optional(AvpValue::HostName(Cow::Borrowed(b"x"))));
        }
        m.avps
            .push(Avp::optional(AvpValue::CallingNumber(Cow::Borrowed(
                b"0123",
            ))));
        let want = PackedCallDetails::new(&CallDetails::from_message(&m).replicable());
        assert_eq!(PackedCallDetails::from_message(&m), want);
        assert_eq!(want.unpack().calling_number.as_deref(), Some(&b"0123"[..]));
    }

    /// Details whose block is longer than the packer's stack (long numbers and a long Private
    /// Group ID, as RFC 2661 4.4.5 allows: octet strings bounded by the AVP only), twice each
    /// and an orphan Proxy Authen Name before its type, pack as the typed details do (the
    /// fallback through `message_slots`).
    #[test]
    fn details_longer_than_the_stack_are_packed() {
        let long = |c: u8, n: usize| Cow::Owned(vec![c; n]);
        let mut m = ControlMessage::iccn(1, 2, 10_000_000, FramingType::SYNCHRONOUS);
        m.avps
            .push(Avp::optional(AvpValue::ProxyAuthenName(long(b'n', 9))));
        for k in 0..2u8 {
            for v in [
                AvpValue::CalledNumber(long(b'1' + k, 120)),
                AvpValue::CallingNumber(long(b'3' + k, 120)),
                AvpValue::PrivateGroupId(long(b'g' + k, 100)),
                AvpValue::ProxyAuthenType(2),
                AvpValue::ProxyAuthenName(long(b'p' + k, 40)),
            ] {
                m.avps.push(Avp::optional(v));
            }
        }
        let typed = CallDetails::from_message(&m).replicable();
        let want = PackedCallDetails::new(&typed);
        assert!(want.as_bytes().len() > super::super::replica::PACK_STACK);
        let got = PackedCallDetails::from_message(&m);
        assert_eq!(got, want);
        assert_eq!(got.unpack(), typed);
        assert_eq!(typed.calling_number.as_deref(), Some(&[b'3'; 120][..]));
        assert_eq!(got.last_rank(), walked_rank(want.as_bytes()));
    }

    /// Proxy authentication AVPs without a Proxy Authen Type are not a proxy authentication.
    #[test]
    fn proxy_auth_needs_its_type() {
        let m = ControlMessage::iccn(1, 2, 1, 1).with(Avp::optional(AvpValue::ProxyAuthenName(
            Cow::Borrowed(b"bob"),
        )));
        assert_eq!(CallDetails::from_message(&m).proxy_auth, None);
    }
}
