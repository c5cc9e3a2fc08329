//! The per-type codec of AVP values (RFC 2661 4.4): keys, lengths, emit and parse tables, and the
//! raw AVP reader.

use super::*;
use crate::l2tp::wire::{Field, LengthRule};

impl<'a> AvpValue<'a> {
    /// The Vendor ID and attribute type of the value.
    #[inline]
    pub fn key(&self) -> (u16, AvpType) {
        use AvpValue::*;
        let t = match self {
            MessageType(_) => AvpType::MESSAGE_TYPE,
            ResultCode(_) => AvpType::RESULT_CODE,
            ProtocolVersion { .. } => AvpType::PROTOCOL_VERSION,
            FramingCapabilities(_) => AvpType::FRAMING_CAPABILITIES,
            BearerCapabilities(_) => AvpType::BEARER_CAPABILITIES,
            TieBreaker(_) => AvpType::TIE_BREAKER,
            FirmwareRevision(_) => AvpType::FIRMWARE_REVISION,
            HostName(_) => AvpType::HOST_NAME,
            VendorName(_) => AvpType::VENDOR_NAME,
            AssignedTunnelId(_) => AvpType::ASSIGNED_TUNNEL_ID,
            ReceiveWindowSize(_) => AvpType::RECEIVE_WINDOW_SIZE,
            Challenge(_) => AvpType::CHALLENGE,
            Q931CauseCode { .. } => AvpType::Q931_CAUSE_CODE,
            ChallengeResponse(_) => AvpType::CHALLENGE_RESPONSE,
            AssignedSessionId(_) => AvpType::ASSIGNED_SESSION_ID,
            CallSerialNumber(_) => AvpType::CALL_SERIAL_NUMBER,
            MinimumBps(_) => AvpType::MINIMUM_BPS,
            MaximumBps(_) => AvpType::MAXIMUM_BPS,
            BearerType(_) => AvpType::BEARER_TYPE,
            FramingType(_) => AvpType::FRAMING_TYPE,
            CalledNumber(_) => AvpType::CALLED_NUMBER,
            CallingNumber(_) => AvpType::CALLING_NUMBER,
            SubAddress(_) => AvpType::SUB_ADDRESS,
            TxConnectSpeed(_) => AvpType::TX_CONNECT_SPEED,
            PhysicalChannelId(_) => AvpType::PHYSICAL_CHANNEL_ID,
            InitialReceivedLcpConfreq(_) => AvpType::INITIAL_RECEIVED_LCP_CONFREQ,
            LastSentLcpConfreq(_) => AvpType::LAST_SENT_LCP_CONFREQ,
            LastReceivedLcpConfreq(_) => AvpType::LAST_RECEIVED_LCP_CONFREQ,
            ProxyAuthenType(_) => AvpType::PROXY_AUTHEN_TYPE,
            ProxyAuthenName(_) => AvpType::PROXY_AUTHEN_NAME,
            ProxyAuthenChallenge(_) => AvpType::PROXY_AUTHEN_CHALLENGE,
            ProxyAuthenId(_) => AvpType::PROXY_AUTHEN_ID,
            ProxyAuthenResponse(_) => AvpType::PROXY_AUTHEN_RESPONSE,
            CallErrors(_) => AvpType::CALL_ERRORS,
            Accm { .. } => AvpType::ACCM,
            RandomVector(_) => AvpType::RANDOM_VECTOR,
            PrivateGroupId(_) => AvpType::PRIVATE_GROUP_ID,
            RxConnectSpeed(_) => AvpType::RX_CONNECT_SPEED,
            SequencingRequired => AvpType::SEQUENCING_REQUIRED,
            PppDisconnectCauseCode(_) => AvpType::PPP_DISCONNECT_CAUSE_CODE,
            FailoverCapability(_) => AvpType::FAILOVER_CAPABILITY,
            TunnelRecovery(_) => AvpType::TUNNEL_RECOVERY,
            SuggestedControlSequence(_) => AvpType::SUGGESTED_CONTROL_SEQUENCE,
            FailoverSessionState(_) => AvpType::FAILOVER_SESSION_STATE,
            LoadBalanceCapable { vendor } => {
                return (*vendor, AvpType::VENDOR_LOAD_BALANCE_CAPABLE);
            }
            RedirectTarget { vendor, .. } => return (*vendor, AvpType::VENDOR_REDIRECT_TARGET),
            Hidden { vendor, attr, .. } | Raw { vendor, attr, .. } => return (*vendor, *attr),
        };
        (0, t)
    }

    /// The value of the AVPs that carry an opaque or text string (and of hidden and raw values):
    /// their octets as they go on the wire. `None` for the structured values.
    fn octets(&self) -> Option<&[u8]> {
        use AvpValue::*;
        match self {
            HostName(b)
            | VendorName(b)
            | Challenge(b)
            | CalledNumber(b)
            | CallingNumber(b)
            | SubAddress(b)
            | InitialReceivedLcpConfreq(b)
            | LastSentLcpConfreq(b)
            | LastReceivedLcpConfreq(b)
            | ProxyAuthenName(b)
            | ProxyAuthenChallenge(b)
            | ProxyAuthenResponse(b)
            | RandomVector(b)
            | PrivateGroupId(b) => Some(b),
            Hidden { data, .. } | Raw { data, .. } => Some(data),
            _ => None,
        }
    }

    /// Octets of the value on the wire.
    pub fn value_len(&self) -> usize {
        use AvpValue::*;
        match self {
            MessageType(_) | FirmwareRevision(_) | AssignedTunnelId(_) | ReceiveWindowSize(_)
            | AssignedSessionId(_) | ProxyAuthenType(_) | ProxyAuthenId(_) => 2,
            ProtocolVersion { .. } => 2,
            FramingCapabilities(_)
            | BearerCapabilities(_)
            | CallSerialNumber(_)
            | MinimumBps(_)
            | MaximumBps(_)
            | BearerType(_)
            | FramingType(_)
            | TxConnectSpeed(_)
            | PhysicalChannelId(_)
            | RxConnectSpeed(_) => 4,
            TieBreaker(_) => 8,
            ResultCode(r) => r.value_len(),
            Q931CauseCode { advisory, .. } => 3 + advisory.len(),
            ChallengeResponse(_) => 16,
            CallErrors(_) => 26,
            Accm { .. } => 10,
            SequencingRequired | LoadBalanceCapable { .. } => 0,
            PppDisconnectCauseCode(c) => 5 + c.message.len(),
            FailoverCapability(_) | SuggestedControlSequence(_) => 6,
            // RFC 4951 5.2, 5.4 (L2TPv2): each 16-bit id in the low half of a 32-bit word.
            TunnelRecovery(_) | FailoverSessionState(_) => 10,
            RedirectTarget { addr, .. } => match addr {
                IpAddr::V4(_) => 4,
                IpAddr::V6(_) => 16,
            },
            _ => self.octets().map_or(0, <[u8]>::len),
        }
    }

    /// Writes the value only (no AVP header).
    pub fn emit_value(&self, out: &mut impl BufMut) {
        use AvpValue::*;
        match self {
            MessageType(t) => out.put_u16(t.0),
            ResultCode(r) => {
                out.put_u16(r.result.0);
                if let Some((e, m)) = &r.error {
                    out.put_u16(e.0);
                    out.put_slice(m);
                }
            }
            ProtocolVersion { version, revision } => {
                out.put_u8(*version);
                out.put_u8(*revision);
            }
            FirmwareRevision(v) | AssignedTunnelId(v) | ReceiveWindowSize(v)
            | AssignedSessionId(v) | ProxyAuthenType(v) | ProxyAuthenId(v) => out.put_u16(*v),
            FramingCapabilities(v)
            | BearerCapabilities(v)
            | CallSerialNumber(v)
            | MinimumBps(v)
            | MaximumBps(v)
            | BearerType(v)
            | FramingType(v)
            | TxConnectSpeed(v)
            | PhysicalChannelId(v)
            | RxConnectSpeed(v) => out.put_u32(*v),
            TieBreaker(v) => out.put_u64(*v),
            Q931CauseCode {
                cause,
                message,
                advisory,
            } => {
                out.put_u16(*cause);
                out.put_u8(*message);
                out.put_slice(advisory);
            }
            ChallengeResponse(r) => out.put_slice(r),
            CallErrors(e) => {
                out.put_u16(0);
                for v in [
                    e.crc,
                    e.framing,
                    e.hardware_overruns,
                    e.buffer_overruns,
                    e.timeouts,
                    e.alignment,
                ] {
                    out.put_u32(v);
                }
            }
            Accm { send, receive } => {
                out.put_u16(0);
                out.put_u32(*send);
                out.put_u32(*receive);
            }
            SequencingRequired | LoadBalanceCapable { .. } => {}
            PppDisconnectCauseCode(c) => {
                out.put_u16(c.code.0);
                out.put_u16(c.protocol);
                out.put_u8(c.direction.0);
                out.put_slice(&c.message);
            }
            FailoverCapability(f) => {
                out.put_u16(f.flags());
                out.put_u32(f.recovery_time_ms);
            }
            TunnelRecovery(r) => {
                out.put_u16(0);
                out.put_u32(u32::from(r.tunnel_id));
                out.put_u32(u32::from(r.remote_tunnel_id));
            }
            SuggestedControlSequence(q) => {
                out.put_u16(0);
                out.put_u16(q.ns);
                out.put_u16(q.nr);
            }
            FailoverSessionState(f) => {
                out.put_u16(0);
                out.put_u32(u32::from(f.session_id));
                out.put_u32(u32::from(f.remote_session_id));
            }
            RedirectTarget { addr, .. } => match addr {
                IpAddr::V4(a) => out.put_slice(&a.octets()),
                IpAddr::V6(a) => out.put_slice(&a.octets()),
            },
            _ => out.put_slice(self.octets().unwrap_or_default()),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> AvpValue<'static> {
        use AvpValue::*;
        match self {
            MessageType(t) => MessageType(t),
            ResultCode(r) => ResultCode(r.into_owned()),
            ProtocolVersion { version, revision } => ProtocolVersion { version, revision },
            FramingCapabilities(v) => FramingCapabilities(v),
            BearerCapabilities(v) => BearerCapabilities(v),
            TieBreaker(v) => TieBreaker(v),
            FirmwareRevision(v) => FirmwareRevision(v),
            HostName(b) => HostName(cow_owned(b)),
            VendorName(b) => VendorName(cow_owned(b)),
            AssignedTunnelId(v) => AssignedTunnelId(v),
            ReceiveWindowSize(v) => ReceiveWindowSize(v),
            Challenge(b) => Challenge(cow_owned(b)),
            Q931CauseCode {
                cause,
                message,
                advisory,
            } => Q931CauseCode {
                cause,
                message,
                advisory: cow_owned(advisory),
            },
            ChallengeResponse(r) => ChallengeResponse(r),
            AssignedSessionId(v) => AssignedSessionId(v),
            CallSerialNumber(v) => CallSerialNumber(v),
            MinimumBps(v) => MinimumBps(v),
            MaximumBps(v) => MaximumBps(v),
            BearerType(v) => BearerType(v),
            FramingType(v) => FramingType(v),
            CalledNumber(b) => CalledNumber(cow_owned(b)),
            CallingNumber(b) => CallingNumber(cow_owned(b)),
            SubAddress(b) => SubAddress(cow_owned(b)),
            TxConnectSpeed(v) => TxConnectSpeed(v),
            PhysicalChannelId(v) => PhysicalChannelId(v),
            InitialReceivedLcpConfreq(b) => InitialReceivedLcpConfreq(cow_owned(b)),
            LastSentLcpConfreq(b) => LastSentLcpConfreq(cow_owned(b)),
            LastReceivedLcpConfreq(b) => LastReceivedLcpConfreq(cow_owned(b)),
            ProxyAuthenType(v) => ProxyAuthenType(v),
            ProxyAuthenName(b) => ProxyAuthenName(cow_owned(b)),
            ProxyAuthenChallenge(b) => ProxyAuthenChallenge(cow_owned(b)),
            ProxyAuthenId(v) => ProxyAuthenId(v),
            ProxyAuthenResponse(b) => ProxyAuthenResponse(cow_owned(b)),
            CallErrors(e) => CallErrors(e),
            Accm { send, receive } => Accm { send, receive },
            RandomVector(b) => RandomVector(cow_owned(b)),
            PrivateGroupId(b) => PrivateGroupId(cow_owned(b)),
            RxConnectSpeed(v) => RxConnectSpeed(v),
            SequencingRequired => SequencingRequired,
            PppDisconnectCauseCode(c) => PppDisconnectCauseCode(c.into_owned()),
            FailoverCapability(f) => FailoverCapability(f),
            TunnelRecovery(r) => TunnelRecovery(r),
            SuggestedControlSequence(q) => SuggestedControlSequence(q),
            FailoverSessionState(f) => FailoverSessionState(f),
            LoadBalanceCapable { vendor } => LoadBalanceCapable { vendor },
            RedirectTarget { vendor, addr } => RedirectTarget { vendor, addr },
            Hidden { vendor, attr, data } => Hidden {
                vendor,
                attr,
                data: cow_owned(data),
            },
            Raw {
                vendor,
                attr,
                reserved,
                data,
            } => Raw {
                vendor,
                attr,
                reserved,
                data: cow_owned(data),
            },
        }
    }

    /// A vendor-specific AVP (RFC 2661 4.1): the load-redirection AVPs under `enterprise`, any
    /// other kept raw.
    fn parse_vendor<'v>(
        vendor: u16,
        attr: AvpType,
        value: &'v [u8],
        enterprise: u16,
        own: fn(&'v [u8]) -> Cow<'a, [u8]>,
        bad: impl Fn(LengthRule) -> WireError,
    ) -> Result<AvpValue<'a>, WireError> {
        use AvpValue::*;
        let len = value.len();
        if vendor == enterprise {
            if attr == AvpType::VENDOR_LOAD_BALANCE_CAPABLE {
                if len != 0 {
                    return Err(bad(LengthRule::Exactly(0)));
                }
                return Ok(LoadBalanceCapable { vendor });
            }
            if attr == AvpType::VENDOR_REDIRECT_TARGET {
                let addr = match len {
                    4 => {
                        let o: [u8; 4] = value
                            .try_into()
                            .map_err(|_| bad(LengthRule::FourOrSixteen))?;
                        IpAddr::V4(Ipv4Addr::from(o))
                    }
                    16 => {
                        let o: [u8; 16] = value
                            .try_into()
                            .map_err(|_| bad(LengthRule::FourOrSixteen))?;
                        IpAddr::V6(Ipv6Addr::from(o))
                    }
                    _ => return Err(bad(LengthRule::FourOrSixteen)),
                };
                return Ok(RedirectTarget { vendor, addr });
            }
        }
        Ok(Raw {
            vendor,
            attr,
            reserved: 0,
            data: own(value),
        })
    }

    /// Parses the value of an AVP (vendor, attribute type) from `value`. `offset` is the AVP's byte
    /// offset (for errors); `enterprise` the Vendor ID of the load-redirection AVPs.
    pub fn parse(
        vendor: u16,
        attr: AvpType,
        value: &'a [u8],
        offset: usize,
        enterprise: u16,
    ) -> Result<AvpValue<'a>, WireError> {
        Self::parse_as(vendor, attr, value, offset, enterprise, Cow::Borrowed)
    }

    /// The values most messages carry: the IETF (vendor 0) ones of one 16- or 32-bit integer
    /// (Message Type, Assigned Tunnel ID, Assigned Session ID, Call Serial Number: RFC 2661
    /// 4.4.1, 4.4.3, 4.4.5) when `value` has exactly that integer's length, a Result Code without
    /// Error Code (4.4.2: two octets, a CDN's or StopCCN's), and the empty `LoadBalanceCapable`
    /// of vendor `enterprise` (an ICRQ's or SCCRQ's, read on every redirect decision): what
    /// [`AvpValue::parse_as`] gives for them, read inline without its call. `None` for anything
    /// else (then `parse_as` decides, errors included).
    #[inline]
    pub(crate) fn parse_common(
        vendor: u16,
        attr: AvpType,
        value: &[u8],
        enterprise: u16,
    ) -> Option<AvpValue<'static>> {
        use AvpValue::*;
        if vendor != 0 {
            let lbc = vendor == enterprise
                && attr == AvpType::VENDOR_LOAD_BALANCE_CAPABLE
                && value.is_empty();
            return lbc.then_some(LoadBalanceCapable { vendor });
        }
        Some(match (attr.0, value) {
            (0, &[a, b]) => MessageType(crate::l2tp::wire::MessageType(u16::from_be_bytes([a, b]))),
            (1, &[a, b]) => ResultCode(self::ResultCode {
                result: ResultCodeValue(u16::from_be_bytes([a, b])),
                error: None,
            }),
            (9, &[a, b]) => AssignedTunnelId(u16::from_be_bytes([a, b])),
            (14, &[a, b]) => AssignedSessionId(u16::from_be_bytes([a, b])),
            (15, &[a, b, c, d]) => CallSerialNumber(u32::from_be_bytes([a, b, c, d])),
            _ => return None,
        })
    }

    /// [`AvpValue::parse`], the value's octets (strings, messages, raw and hidden values) taken
    /// by `own`: borrowed from `value`, or copied into an owned value (no second pass to own a
    /// parsed message). One function for both: `own` is a pointer, not a type parameter.
    pub(crate) fn parse_as<'v>(
        vendor: u16,
        attr: AvpType,
        value: &'v [u8],
        offset: usize,
        enterprise: u16,
        own: fn(&'v [u8]) -> Cow<'a, [u8]>,
    ) -> Result<AvpValue<'a>, WireError> {
        use AvpValue::*;
        let len = value.len();
        let bad = |rule: LengthRule| WireError::BadAvpLength {
            offset,
            avp: attr,
            len,
            rule,
        };
        let exact = |n: u16| {
            if len == usize::from(n) {
                Ok(())
            } else {
                Err(bad(LengthRule::Exactly(n)))
            }
        };
        // The many values that are exactly one 16- or 32-bit integer (RFC 2661 4.4), read from
        // the octets once their length is checked (no reader: the common AVPs' hot path).
        let fixed16 = |_: &mut Reader<'v>, _: Field| -> Result<u16, WireError> {
            <[u8; 2]>::try_from(value)
                .map(u16::from_be_bytes)
                .map_err(|_| bad(LengthRule::Exactly(2)))
        };
        let fixed32 = |_: &mut Reader<'v>, _: Field| -> Result<u32, WireError> {
            <[u8; 4]>::try_from(value)
                .map(u32::from_be_bytes)
                .map_err(|_| bad(LengthRule::Exactly(4)))
        };
        if vendor != 0 {
            return Self::parse_vendor(vendor, attr, value, enterprise, own, bad);
        }
        let mut c = Reader::at(value, offset + 6);
        let b = || own(value);
        Ok(match attr.0 {
            0 => MessageType(crate::l2tp::wire::MessageType(fixed16(
                &mut c,
                Field::MessageType,
            )?)),
            1 => {
                if len < 2 || len == 3 {
                    return Err(bad(LengthRule::TwoOrAtLeastFour));
                }
                let result = ResultCodeValue(c.u16(Field::ResultCode)?);
                let error = if len >= 4 {
                    let e = ErrorCode(c.u16(Field::ErrorCode)?);
                    Some((e, own(c.rest())))
                } else {
                    None
                };
                ResultCode(self::ResultCode { result, error })
            }
            2 => {
                exact(2)?;
                ProtocolVersion {
                    version: c.u8(Field::Version)?,
                    revision: c.u8(Field::Revision)?,
                }
            }
            3 => FramingCapabilities(fixed32(&mut c, Field::FramingCapabilities)?),
            4 => BearerCapabilities(fixed32(&mut c, Field::BearerCapabilities)?),
            5 => {
                exact(8)?;
                let hi = c.u32(Field::TieBreaker)?;
                let lo = c.u32(Field::TieBreaker)?;
                TieBreaker((u64::from(hi) << 32) | u64::from(lo))
            }
            6 => FirmwareRevision(fixed16(&mut c, Field::FirmwareRevision)?),
            7 => {
                if len == 0 {
                    return Err(bad(LengthRule::AtLeast(1)));
                }
                HostName(b())
            }
            8 => VendorName(b()),
            9 => AssignedTunnelId(fixed16(&mut c, Field::AssignedTunnelId)?),
            10 => ReceiveWindowSize(fixed16(&mut c, Field::ReceiveWindowSize)?),
            11 => {
                if len == 0 {
                    return Err(bad(LengthRule::AtLeast(1)));
                }
                Challenge(b())
            }
            12 => {
                if len < 3 {
                    return Err(bad(LengthRule::AtLeast(3)));
                }
                let cause = c.u16(Field::CauseCode)?;
                let message = c.u8(Field::CauseMessage)?;
                Q931CauseCode {
                    cause,
                    message,
                    advisory: own(c.rest()),
                }
            }
            13 => {
                let r: [u8; 16] = value.try_into().map_err(|_| bad(LengthRule::Exactly(16)))?;
                ChallengeResponse(r)
            }
            14 => AssignedSessionId(fixed16(&mut c, Field::AssignedSessionId)?),
            15 => CallSerialNumber(fixed32(&mut c, Field::CallSerialNumber)?),
            16 => MinimumBps(fixed32(&mut c, Field::MinimumBps)?),
            17 => MaximumBps(fixed32(&mut c, Field::MaximumBps)?),
            18 => BearerType(fixed32(&mut c, Field::BearerType)?),
            19 => FramingType(fixed32(&mut c, Field::FramingType)?),
            21 => CalledNumber(b()),
            22 => CallingNumber(b()),
            23 => SubAddress(b()),
            24 => TxConnectSpeed(fixed32(&mut c, Field::ConnectSpeed)?),
            25 => PhysicalChannelId(fixed32(&mut c, Field::PhysicalChannelId)?),
            26 => InitialReceivedLcpConfreq(b()),
            27 => LastSentLcpConfreq(b()),
            28 => LastReceivedLcpConfreq(b()),
            29 => ProxyAuthenType(fixed16(&mut c, Field::ProxyAuthenType)?),
            30 => ProxyAuthenName(b()),
            31 => ProxyAuthenChallenge(b()),
            32 => ProxyAuthenId(fixed16(&mut c, Field::ProxyAuthenId)?),
            33 => ProxyAuthenResponse(b()),
            34 => {
                exact(26)?;
                c.u16(Field::Reserved)?;
                CallErrors(self::CallErrors {
                    crc: c.u32(Field::CrcErrors)?,
                    framing: c.u32(Field::FramingErrors)?,
                    hardware_overruns: c.u32(Field::HardwareOverruns)?,
                    buffer_overruns: c.u32(Field::BufferOverruns)?,
                    timeouts: c.u32(Field::TimeOutErrors)?,
                    alignment: c.u32(Field::AlignmentErrors)?,
                })
            }
            35 => {
                exact(10)?;
                c.u16(Field::Reserved)?;
                Accm {
                    send: c.u32(Field::SendAccm)?,
                    receive: c.u32(Field::ReceiveAccm)?,
                }
            }
            36 => {
                if len == 0 {
                    return Err(bad(LengthRule::AtLeast(1)));
                }
                RandomVector(b())
            }
            37 => PrivateGroupId(b()),
            38 => RxConnectSpeed(fixed32(&mut c, Field::RxConnectSpeed)?),
            39 => {
                exact(0)?;
                SequencingRequired
            }
            46 => {
                if len < 5 {
                    return Err(bad(LengthRule::AtLeast(5)));
                }
                PppDisconnectCauseCode(super::PppDisconnectCause {
                    code: super::DisconnectCode(c.u16(Field::DisconnectCode)?),
                    protocol: c.u16(Field::ControlProtocolNumber)?,
                    direction: super::DisconnectDirection(c.u8(Field::Direction)?),
                    message: own(c.rest()),
                })
            }
            76 | 78 => {
                exact(6)?;
                Self::parse_failover(attr, &mut c)?
            }
            77 | 79 => {
                exact(10)?;
                Self::parse_failover_ids(attr, &mut c)?
            }
            _ => Raw {
                vendor,
                attr,
                reserved: 0,
                data: b(),
            },
        })
    }

    /// RFC 4951's Failover Capability (76) and Suggested Control Sequence (78), their 6-octet
    /// length already checked.
    fn parse_failover(attr: AvpType, c: &mut Reader<'_>) -> Result<AvpValue<'a>, WireError> {
        let first = c.u16(Field::Reserved)?;
        let a = c.u16(Field::AvpValue)?;
        let b = c.u16(Field::AvpValue)?;
        Ok(match attr {
            AvpType::FAILOVER_CAPABILITY => {
                AvpValue::FailoverCapability(super::FailoverCapability {
                    control: first & super::FailoverCapability::C_BIT != 0,
                    data: first & super::FailoverCapability::D_BIT != 0,
                    recovery_time_ms: (u32::from(a) << 16) | u32::from(b),
                })
            }
            _ => {
                AvpValue::SuggestedControlSequence(super::SuggestedControlSequence { ns: a, nr: b })
            }
        })
    }

    /// RFC 4951's Tunnel Recovery (77) and Failover Session State (79), their 10-octet length
    /// already checked: the L2TPv2 figures of 5.2 and 5.4, a reserved 16 bits, then two 32-bit
    /// words each holding a reserved 16 bits (ignored) and a 16-bit id.
    fn parse_failover_ids(attr: AvpType, c: &mut Reader<'_>) -> Result<AvpValue<'a>, WireError> {
        c.u16(Field::Reserved)?;
        c.u16(Field::Reserved)?;
        let a = c.u16(Field::AvpValue)?;
        c.u16(Field::Reserved)?;
        let b = c.u16(Field::AvpValue)?;
        Ok(if attr == AvpType::TUNNEL_RECOVERY {
            AvpValue::TunnelRecovery(super::TunnelRecovery {
                tunnel_id: a,
                remote_tunnel_id: b,
            })
        } else {
            AvpValue::FailoverSessionState(super::FailoverSessionState {
                session_id: a,
                remote_session_id: b,
            })
        })
    }

    /// Is this value one this crate interprets (typed, not raw and not still hidden)?
    pub fn is_recognised(&self) -> bool {
        !matches!(self, AvpValue::Raw { .. } | AvpValue::Hidden { .. })
    }
}

/// One AVP header and value as read, before typing.
pub(crate) struct RawAvp<'a> {
    pub(crate) mandatory: bool,
    pub(crate) hidden: bool,
    pub(crate) reserved: u8,
    pub(crate) vendor: u16,
    pub(crate) attr: AvpType,
    pub(crate) value: &'a [u8],
    pub(crate) offset: usize,
}

pub(crate) fn read_raw<'a>(c: &mut Reader<'a>) -> Result<RawAvp<'a>, WireError> {
    let offset = c.offset();
    let first = c.u16(Field::AvpFlagsAndLength)?;
    let len = usize::from(first & 0x03ff);
    if len < 6 {
        return Err(WireError::BadLength {
            offset,
            field: Field::AvpLength,
            declared: len,
            actual: 6,
        });
    }
    if len - 2 > c.rest().len() {
        return Err(WireError::BadLength {
            offset,
            field: Field::AvpLength,
            declared: len,
            actual: c.rest().len() + 2,
        });
    }
    let vendor = c.u16(Field::VendorId)?;
    let attr = AvpType(c.u16(Field::AttributeType)?);
    let value = c.bytes(len - 6, Field::AttributeValue)?;
    Ok(RawAvp {
        mandatory: first & 0x8000 != 0,
        hidden: first & 0x4000 != 0,
        reserved: ((first >> 10) & 0x0f) as u8,
        vendor,
        attr,
        value,
        offset,
    })
}

/// [`read_raw`] of the AVP at `at` in `data` (byte `base` of the datagram is `data[0]`): a whole
/// AVP is read from the octets directly; anything else goes through [`read_raw`], which names
/// the error.
/// Inlined: the whole-AVP read is a few loads; the rest is [`read_raw_slow`], kept out of line.
#[inline]
pub(crate) fn read_raw_at(data: &[u8], at: usize, base: usize) -> Result<RawAvp<'_>, WireError> {
    let rest = data.get(at..).unwrap_or_default();
    if let Some(&[f0, f1, v0, v1, a0, a1]) = rest.get(..6) {
        let first = u16::from_be_bytes([f0, f1]);
        let len = usize::from(first & 0x03ff);
        if let Some(value) = rest.get(6..len) {
            return Ok(RawAvp {
                mandatory: first & 0x8000 != 0,
                hidden: first & 0x4000 != 0,
                reserved: ((first >> 10) & 0x0f) as u8,
                vendor: u16::from_be_bytes([v0, v1]),
                attr: AvpType(u16::from_be_bytes([a0, a1])),
                value,
                offset: base + at,
            });
        }
    }
    read_raw_slow(rest, base + at)
}

/// [`read_raw_at`]'s case of a truncated or malformed AVP: [`read_raw`] names the error.
#[cold]
#[inline(never)]
fn read_raw_slow(rest: &[u8], offset: usize) -> Result<RawAvp<'_>, WireError> {
    read_raw(&mut Reader::at(rest, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seen(r: Result<RawAvp<'_>, WireError>) -> String {
        match r {
            Ok(a) => format!(
                "{} {} {} {} {:?} {:?} {}",
                a.mandatory, a.hidden, a.reserved, a.vendor, a.attr, a.value, a.offset
            ),
            Err(e) => format!("{e:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The direct read of a whole AVP gives what the field-by-field reader gives, on any
        /// octets: AVP lengths around the octets left (short, exact, beyond), any flags.
        #[test]
        fn direct_avp_read_is_the_reader(
            flags in 0..64u16,
            len_delta in -8..4i32,
            vendor in any::<u16>(),
            attr in any::<u16>(),
            tail in proptest::collection::vec(any::<u8>(), 0..24),
            at in 0..4usize,
            cut in 0..8usize,
        ) {
            let mut d = vec![0xa5; at];
            let len = ((tail.len() + 6) as i32 + len_delta).clamp(0, 0x3ff) as u16;
            d.extend_from_slice(&((flags << 10) | len).to_be_bytes());
            d.extend_from_slice(&vendor.to_be_bytes());
            d.extend_from_slice(&attr.to_be_bytes());
            d.extend_from_slice(&tail);
            d.truncate(d.len().saturating_sub(cut));
            let rest = d.get(at..).unwrap_or_default();
            prop_assert_eq!(
                seen(read_raw_at(&d, at, 12)),
                seen(read_raw(&mut Reader::at(rest, 12 + at)))
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The inline read of the common AVPs is what the full parse gives, on any type of the
        /// IETF, of the enterprise or of another vendor, and any value of 0 to 6 octets; and it
        /// does answer for those it covers at their exact length (RFC 2661 4.4: Message Type and
        /// the two ids are 2 octets, the Call Serial Number 4, a Result Code without Error Code
        /// 2; the enterprise's LoadBalanceCapable is empty).
        #[test]
        fn common_values_are_parse_as(
            vendor in prop_oneof![Just(0u16), Just(ENTERPRISE), any::<u16>()],
            attr in prop_oneof![
                Just(0u16), Just(1), Just(9), Just(14), Just(15),
                Just(AvpType::VENDOR_LOAD_BALANCE_CAPABLE.0), 0..64u16
            ],
            value in prop_oneof![
                Just(Vec::new()),
                proptest::collection::vec(any::<u8>(), 0..7)
            ],
        ) {
            let full = AvpValue::parse_as(vendor, AvpType(attr), &value, 12, ENTERPRISE, |b| {
                std::borrow::Cow::Owned(b.to_vec())
            });
            match AvpValue::parse_common(vendor, AvpType(attr), &value, ENTERPRISE) {
                Some(v) => prop_assert_eq!(Ok(v), full),
                None => prop_assert!(!(matches!(
                    (vendor, attr, value.len()),
                    (0, 0 | 1 | 9 | 14, 2) | (0, 15, 4)
                ) || (vendor == ENTERPRISE
                    && attr == AvpType::VENDOR_LOAD_BALANCE_CAPABLE.0
                    && value.is_empty()))),
            }
        }
    }

    /// The enterprise the inline read is checked under (`common_values_are_parse_as`).
    const ENTERPRISE: u16 = crate::l2tp::wire::DEFAULT_ENTERPRISE;

    /// RFC 2661 4.1: an AVP's Length counts its 6 octets of header, so it is at least 6, and the
    /// AVP must fit in the message; the inlined read and its out-of-line error path agree with
    /// that: a whole AVP is read (M and H bits, Vendor ID, Attribute Type, value), a Length
    /// under 6 or past the end is an error at the AVP's offset in the datagram.
    #[test]
    fn avp_length_bounds_rfc2661() {
        // M=1, H=0, Length 8, vendor 0, Assigned Session ID (14) = 7, at octet 20.
        let d = [0xff, 0xff, 0x80, 8, 0, 0, 0, 14, 0, 7];
        let a = read_raw_at(&d, 2, 18).expect("a whole AVP");
        assert!(a.mandatory && !a.hidden);
        assert_eq!(
            (a.reserved, a.vendor, a.attr, a.value),
            (0, 0, AvpType(14), &[0, 7][..])
        );
        assert_eq!(a.offset, 20);
        let len_err = |r: Result<RawAvp<'_>, WireError>| match r {
            Err(WireError::BadLength {
                offset,
                field: Field::AvpLength,
                declared,
                ..
            }) => Some((offset, declared)),
            _ => None,
        };
        // Length 5: under the header's 6 octets.
        let short = [0x80, 5, 0, 0, 0, 14, 0, 7];
        assert_eq!(len_err(read_raw_at(&short, 0, 12)), Some((12, 5)));
        // Length 9 with 8 octets left.
        let long = [0x80, 9, 0, 0, 0, 14, 0, 7];
        assert_eq!(len_err(read_raw_at(&long, 0, 12)), Some((12, 9)));
        // Fewer than the 6 header octets left.
        assert!(read_raw_at(&[0x80, 8, 0], 0, 12).is_err());
        assert!(read_raw_at(&d, 11, 12).is_err());
    }
}
