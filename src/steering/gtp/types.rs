//! Open newtypes for GTPv1 code points: unknown values survive parse and emit.

use crate::io::reader::code_point;

code_point! {
    /// A GTPv1 message type (TS 29.060 table 1, TS 29.281 for GTP-U).
    MessageType {
        /// Echo Request.
        ECHO_REQUEST = 1,
        /// Echo Response.
        ECHO_RESPONSE = 2,
        /// Version Not Supported.
        VERSION_NOT_SUPPORTED = 3,
        /// Create PDP Context Request.
        CREATE_PDP_CONTEXT_REQUEST = 16,
        /// Create PDP Context Response.
        CREATE_PDP_CONTEXT_RESPONSE = 17,
        /// Update PDP Context Request.
        UPDATE_PDP_CONTEXT_REQUEST = 18,
        /// Update PDP Context Response.
        UPDATE_PDP_CONTEXT_RESPONSE = 19,
        /// Delete PDP Context Request.
        DELETE_PDP_CONTEXT_REQUEST = 20,
        /// Delete PDP Context Response.
        DELETE_PDP_CONTEXT_RESPONSE = 21,
        /// Error Indication (GTP-U).
        ERROR_INDICATION = 26,
        /// Supported Extension Headers Notification.
        SUPPORTED_EXTENSION_HEADERS_NOTIFICATION = 31,
        /// End Marker (GTP-U).
        END_MARKER = 254,
        /// G-PDU: a user packet (T-PDU) in a GTP-U tunnel.
        G_PDU = 255,
    }
}

impl MessageType {
    /// Whether the body of this message type is a list of information elements that this codec
    /// decodes. G-PDUs carry a T-PDU; other unknown types are kept raw.
    pub fn has_ies(self) -> bool {
        matches!(self.0, 1..=3 | 16..=21 | 26 | 31 | 254)
    }

    /// Whether GTP-U defines this message type (TS 29.281 section 6.1, table 6.1-1: Echo
    /// Request and Response, Error Indication, Supported Extension Headers Notification, Tunnel
    /// Status, End Marker, G-PDU): the only ones the GTP-U port (2152) carries; any other
    /// (a GTP-C message sent there) is discarded as an unknown message.
    pub(crate) fn is_gtp_u(self) -> bool {
        matches!(self.0, 1 | 2 | 26 | 31 | 253..=255)
    }

    /// Whether this is a request that opens a session: it is sent with TEID 0 and handled by the
    /// switch processor.
    pub fn is_setup_request(self) -> bool {
        self == MessageType::CREATE_PDP_CONTEXT_REQUEST
    }
}

code_point! {
    /// A GTPv1 information element type (TS 29.060 section 7.7). Types below 128 are TV (fixed
    /// length, see [`IeType::tv_len`]); types from 128 are TLV with a two-octet length, except the
    /// Extension Header Type List (141) whose length is one octet.
    IeType {
        /// Cause (TV, 1).
        CAUSE = 1,
        /// IMSI (TV, 8).
        IMSI = 2,
        /// Routing Area Identity (TV, 6).
        RAI = 3,
        /// TLLI (TV, 4).
        TLLI = 4,
        /// P-TMSI (TV, 4).
        P_TMSI = 5,
        /// Reordering Required (TV, 1).
        REORDERING_REQUIRED = 8,
        /// Authentication Triplet (TV, 28).
        AUTHENTICATION_TRIPLET = 9,
        /// MAP Cause (TV, 1).
        MAP_CAUSE = 11,
        /// P-TMSI Signature (TV, 3).
        P_TMSI_SIGNATURE = 12,
        /// MS Validated (TV, 1).
        MS_VALIDATED = 13,
        /// Recovery (TV, 1): the sender's restart counter.
        RECOVERY = 14,
        /// Selection Mode (TV, 1).
        SELECTION_MODE = 15,
        /// Tunnel Endpoint Identifier Data I (TV, 4).
        TEID_DATA_I = 16,
        /// Tunnel Endpoint Identifier Control Plane (TV, 4).
        TEID_CONTROL = 17,
        /// Tunnel Endpoint Identifier Data II (TV, 5).
        TEID_DATA_II = 18,
        /// Teardown Ind (TV, 1).
        TEARDOWN_IND = 19,
        /// NSAPI (TV, 1).
        NSAPI = 20,
        /// RANAP Cause (TV, 1).
        RANAP_CAUSE = 21,
        /// RAB Context (TV, 9).
        RAB_CONTEXT = 22,
        /// Radio Priority SMS (TV, 1).
        RADIO_PRIORITY_SMS = 23,
        /// Radio Priority (TV, 1).
        RADIO_PRIORITY = 24,
        /// Packet Flow Id (TV, 2).
        PACKET_FLOW_ID = 25,
        /// Charging Characteristics (TV, 2).
        CHARGING_CHARACTERISTICS = 26,
        /// Trace Reference (TV, 2).
        TRACE_REFERENCE = 27,
        /// Trace Type (TV, 2).
        TRACE_TYPE = 28,
        /// MS Not Reachable Reason (TV, 1).
        MS_NOT_REACHABLE_REASON = 29,
        /// Charging ID (TV, 4).
        CHARGING_ID = 127,
        /// End User Address (TLV).
        END_USER_ADDRESS = 128,
        /// MM Context (TLV).
        MM_CONTEXT = 129,
        /// PDP Context (TLV).
        PDP_CONTEXT = 130,
        /// Access Point Name (TLV).
        APN = 131,
        /// Protocol Configuration Options (TLV).
        PCO = 132,
        /// GSN Address (TLV).
        GSN_ADDRESS = 133,
        /// MSISDN (TLV).
        MSISDN = 134,
        /// Quality of Service Profile (TLV).
        QOS_PROFILE = 135,
        /// Traffic Flow Template (TLV).
        TFT = 137,
        /// Extension Header Type List (type, one-octet length, value).
        EXTENSION_HEADER_TYPE_LIST = 141,
        /// Common Flags (TLV).
        COMMON_FLAGS = 148,
        /// RAT Type (TLV).
        RAT_TYPE = 151,
        /// User Location Information (TLV).
        USER_LOCATION_INFORMATION = 152,
        /// MS Time Zone (TLV).
        MS_TIME_ZONE = 153,
        /// IMEI(SV) (TLV).
        IMEI_SV = 154,
        /// Charging Gateway Address (TLV).
        CHARGING_GATEWAY_ADDRESS = 251,
        /// Private Extension (TLV).
        PRIVATE_EXTENSION = 255,
    }
}

impl IeType {
    /// Whether this is a TV element (type below 128).
    pub fn is_tv(self) -> bool {
        self.0 < 128
    }

    /// The fixed value length of a TV element (octets after the type), per TS 29.060 section 7.7;
    /// `None` for TLV types and for TV types this codec does not know.
    pub fn tv_len(self) -> Option<usize> {
        Some(match self.0 {
            1 | 8 | 11 | 13 | 14 | 15 | 19 | 20 | 21 | 23 | 24 | 29 => 1,
            25..=28 => 2,
            12 => 3,
            4 | 5 | 16 | 17 | 127 => 4,
            18 => 5,
            3 => 6,
            2 => 8,
            22 => 9,
            9 => 28,
            _ => return None,
        })
    }
}

code_point! {
    /// A GTPv1 cause value (TS 29.060 section 7.7.1). 128-191 are acceptances, 192-255 rejections.
    Cause {
        /// Request accepted.
        REQUEST_ACCEPTED = 128,
        /// New PDP type due to network preference.
        NEW_PDP_TYPE_NETWORK_PREFERENCE = 129,
        /// New PDP type due to single address bearer only.
        NEW_PDP_TYPE_SINGLE_ADDRESS_BEARER = 130,
        /// Non-existent.
        NON_EXISTENT = 192,
        /// Invalid message format.
        INVALID_MESSAGE_FORMAT = 193,
        /// IMSI/IMEI not known.
        IMSI_NOT_KNOWN = 194,
        /// MS is GPRS detached.
        MS_GPRS_DETACHED = 195,
        /// Version not supported.
        VERSION_NOT_SUPPORTED = 198,
        /// No resources available.
        NO_RESOURCES_AVAILABLE = 199,
        /// Service not supported.
        SERVICE_NOT_SUPPORTED = 200,
        /// Mandatory IE incorrect.
        MANDATORY_IE_INCORRECT = 201,
        /// Mandatory IE missing.
        MANDATORY_IE_MISSING = 202,
        /// Optional IE incorrect.
        OPTIONAL_IE_INCORRECT = 203,
        /// System failure.
        SYSTEM_FAILURE = 204,
        /// Context not found.
        CONTEXT_NOT_FOUND = 210,
        /// All dynamic PDP addresses are occupied.
        ALL_DYNAMIC_ADDRESSES_OCCUPIED = 211,
        /// No memory is available.
        NO_MEMORY_AVAILABLE = 212,
        /// Unknown mandatory extension header.
        UNKNOWN_MANDATORY_EXTENSION_HEADER = 214,
        /// Missing or unknown APN.
        MISSING_OR_UNKNOWN_APN = 219,
        /// Unknown PDP address or PDP type.
        UNKNOWN_PDP_ADDRESS_OR_TYPE = 220,
    }
}

impl Cause {
    /// Whether the cause accepts the request (128..=191).
    pub fn is_accepted(self) -> bool {
        (128..192).contains(&self.0)
    }
}
