//! A builder for the Create PDP Context Request (TS 29.060 section 7.3.1), so a request a
//! caller builds carries every element the GGSN needs.

use super::ie::{Apn, EndUserAddress, Imsi};
use super::{Ie, Message, MessageType};
use std::borrow::Cow;
use std::net::IpAddr;

/// The QoS Profile [`CreatePdpContextRequest::new`] puts in (TS 29.060 section 7.7.34): the
/// Allocation/Retention Priority (2), then octets 3 to 5 of the TS 24.008 QoS IE (section
/// 10.5.6.5): delay class 1 and reliability class 3 (`0x0b`), peak throughput class 9 and
/// precedence class 2 (`0x92`), best-effort mean throughput (`0x1f`).
pub const DEFAULT_QOS_PROFILE: [u8; 4] = [0x02, 0x0b, 0x92, 0x1f];

/// A Create PDP Context Request for a primary PDP context, as an SGSN sends it to a GGSN (TS
/// 29.060 section 7.3.1, table 5). The elements the table makes mandatory are fields without
/// an `Option`; the conditional and optional ones this builder knows are `Option`s.
///
/// | element (type) | presence | field |
/// | --- | --- | --- |
/// | IMSI (2) | C: absent only for an emergency attach without an authenticated IMSI | `imsi` |
/// | Recovery (14) | O: the SGSN's restart counter on first contact | `recovery` |
/// | Selection Mode (15) | C: a primary context's APN selection | `selection_mode` |
/// | TEID Data I (16) | **M** | `teid_data_i` |
/// | TEID Control Plane (17) | C: the SGSN's first request for this MS (and the header TEID of every response) | `teid_control` |
/// | NSAPI (20) | **M** | `nsapi` |
/// | End User Address (128) | C: a primary context | `end_user_address` |
/// | Access Point Name (131) | C: a primary context | `apn` |
/// | SGSN Address for signalling (133) | **M** | `sgsn_signalling` |
/// | SGSN Address for user traffic (133) | **M** | `sgsn_user` |
/// | Quality of Service Profile (135) | **M** | `qos_profile` |
///
/// A GGSN refuses a request without a mandatory element with Mandatory IE missing (202, TS
/// 29.060 section 11.1.5), and one whose QoS Profile is shorter than four octets with
/// Mandatory IE incorrect (201, section 11.1.7). [`CreatePdpContextRequest::message`] puts the
/// elements in ascending type order, the two SGSN addresses in the order above (section 7.7).
///
/// ```
/// use telcp::steering::gtp::{CreatePdpContextRequest, Imsi, IeType, MessageType};
/// let sgsn = "192.0.2.10".parse().unwrap();
/// let imsi = Imsi::from_digits("001010123456789");
/// let m = CreatePdpContextRequest::new(imsi, 0x1000, 5, sgsn).message(1);
/// assert_eq!(m.message_type(), MessageType::CREATE_PDP_CONTEXT_REQUEST);
/// assert_eq!((m.header.teid, m.header.sequence), (0, Some(1)));
/// assert_eq!((m.teid_data_i(), m.teid_control(), m.nsapi()), (Some(0x1000), Some(0x1000), Some(5)));
/// assert_eq!(m.gsn_addresses().count(), 2);
/// assert!(m.ie(IeType::QOS_PROFILE).is_some());
/// let bytes = m.to_vec().unwrap();
/// assert_eq!(telcp::steering::gtp::parse(&bytes).unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePdpContextRequest {
    /// IMSI (conditional).
    pub imsi: Option<Imsi>,
    /// Recovery: the SGSN's restart counter (optional).
    pub recovery: Option<u8>,
    /// Selection Mode, the whole octet (conditional; `0xfc`: MS or network provided APN,
    /// subscription verified, spare bits set).
    pub selection_mode: Option<u8>,
    /// TEID Data I: the SGSN's user-plane TEID (mandatory).
    pub teid_data_i: u32,
    /// TEID Control Plane: the SGSN's control-plane TEID (conditional; the GGSN answers on
    /// it).
    pub teid_control: Option<u32>,
    /// NSAPI, 5 to 15 (mandatory; the low four bits of the octet).
    pub nsapi: u8,
    /// End User Address: the PDP type asked for, with a static address or none (conditional).
    pub end_user_address: Option<EndUserAddress<'static>>,
    /// Access Point Name (conditional).
    pub apn: Option<Apn<'static>>,
    /// SGSN Address for signalling (mandatory).
    pub sgsn_signalling: IpAddr,
    /// SGSN Address for user traffic (mandatory).
    pub sgsn_user: IpAddr,
    /// Quality of Service Profile: Allocation/Retention Priority, then the TS 24.008 QoS IE
    /// from its octet 3 (mandatory, at least four octets).
    pub qos_profile: Vec<u8>,
}

impl CreatePdpContextRequest {
    /// A request for subscriber `imsi` whose SGSN uses `teid` for both its TEIDs and `sgsn` for
    /// both its addresses: Selection Mode `0xfc`, an IPv4 End User Address with no address
    /// (dynamic), the APN `internet`, [`DEFAULT_QOS_PROFILE`], no Recovery.
    pub fn new(imsi: Option<Imsi>, teid: u32, nsapi: u8, sgsn: IpAddr) -> Self {
        CreatePdpContextRequest {
            imsi,
            recovery: None,
            selection_mode: Some(0xfc),
            teid_data_i: teid,
            teid_control: Some(teid),
            nsapi,
            end_user_address: Some(EndUserAddress::ipv4(None)),
            apn: Apn::from_name("internet"),
            sgsn_signalling: sgsn,
            sgsn_user: sgsn,
            qos_profile: DEFAULT_QOS_PROFILE.to_vec(),
        }
    }

    /// The message with sequence number `sequence` and header TEID 0 (a set-up request, TS
    /// 29.060 section 9.3.1), the elements in ascending type order.
    pub fn message(&self, sequence: u16) -> Message<'static> {
        let mut ies = Vec::with_capacity(11);
        ies.extend(self.imsi.map(Ie::Imsi));
        ies.extend(self.recovery.map(Ie::Recovery));
        ies.extend(self.selection_mode.map(Ie::SelectionMode));
        ies.push(Ie::TeidDataI(self.teid_data_i));
        ies.extend(self.teid_control.map(Ie::TeidControl));
        ies.push(Ie::Nsapi(self.nsapi));
        ies.extend(self.end_user_address.clone().map(Ie::EndUserAddress));
        ies.extend(self.apn.clone().map(Ie::Apn));
        ies.push(Ie::GsnAddress(self.sgsn_signalling));
        ies.push(Ie::GsnAddress(self.sgsn_user));
        ies.push(Ie::QosProfile(Cow::Owned(self.qos_profile.clone())));
        Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, sequence, ies)
    }
}
