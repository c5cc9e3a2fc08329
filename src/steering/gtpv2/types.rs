//! Open newtypes for GTPv2-C code points (TS 29.274): unknown values survive parse and emit.

use crate::io::reader::code_point;

code_point! {
    /// A GTPv2-C message type (TS 29.274 section 6.1, table 6.1-1).
    MessageType {
        /// Echo Request (section 7.1.1).
        ECHO_REQUEST = 1,
        /// Echo Response (section 7.1.2).
        ECHO_RESPONSE = 2,
        /// Version Not Supported Indication (section 7.1.3).
        VERSION_NOT_SUPPORTED_INDICATION = 3,
        /// Create Session Request (section 7.2.1).
        CREATE_SESSION_REQUEST = 32,
        /// Create Session Response (section 7.2.2).
        CREATE_SESSION_RESPONSE = 33,
        /// Modify Bearer Request (section 7.2.7), the session modification of S11/S5.
        MODIFY_BEARER_REQUEST = 34,
        /// Modify Bearer Response (section 7.2.8).
        MODIFY_BEARER_RESPONSE = 35,
        /// Delete Session Request (section 7.2.9.1).
        DELETE_SESSION_REQUEST = 36,
        /// Delete Session Response (section 7.2.10.1).
        DELETE_SESSION_RESPONSE = 37,
        /// Create Bearer Request (section 7.2.3).
        CREATE_BEARER_REQUEST = 95,
        /// Create Bearer Response (section 7.2.4).
        CREATE_BEARER_RESPONSE = 96,
        /// Update Bearer Request (section 7.2.15).
        UPDATE_BEARER_REQUEST = 97,
        /// Update Bearer Response (section 7.2.16).
        UPDATE_BEARER_RESPONSE = 98,
        /// Delete Bearer Request (section 7.2.9.2).
        DELETE_BEARER_REQUEST = 99,
        /// Delete Bearer Response (section 7.2.10.2).
        DELETE_BEARER_RESPONSE = 100,
    }
}

impl MessageType {
    /// Whether the header of this type carries no TEID (T = 0): Echo Request/Response and
    /// Version Not Supported Indication (TS 29.274 section 5.5.1).
    pub fn is_path_management(self) -> bool {
        matches!(self.0, 1..=3)
    }
}

code_point! {
    /// A GTPv2-C information element type (TS 29.274 section 8.1, table 8.1-1).
    IeType {
        /// IMSI (section 8.3).
        IMSI = 1,
        /// Cause (section 8.4).
        CAUSE = 2,
        /// Recovery (Restart Counter) (section 8.5).
        RECOVERY = 3,
        /// Access Point Name (section 8.6).
        APN = 71,
        /// Aggregate Maximum Bit Rate (section 8.7).
        AMBR = 72,
        /// EPS Bearer ID (section 8.8).
        EBI = 73,
        /// IP Address (section 8.9).
        IP_ADDRESS = 74,
        /// Mobile Equipment Identity (section 8.10).
        MEI = 75,
        /// MSISDN (section 8.11).
        MSISDN = 76,
        /// Indication (section 8.12).
        INDICATION = 77,
        /// Protocol Configuration Options (section 8.13).
        PCO = 78,
        /// PDN Address Allocation (section 8.14).
        PAA = 79,
        /// Bearer Level Quality of Service (section 8.15).
        BEARER_QOS = 80,
        /// RAT Type (section 8.17).
        RAT_TYPE = 82,
        /// Serving Network (section 8.18).
        SERVING_NETWORK = 83,
        /// EPS Bearer Level Traffic Flow Template (section 8.19).
        BEARER_TFT = 84,
        /// User Location Information (section 8.21).
        ULI = 86,
        /// Fully Qualified TEID (section 8.22).
        F_TEID = 87,
        /// Bearer Context, grouped (section 8.28).
        BEARER_CONTEXT = 93,
        /// Charging ID (section 8.29).
        CHARGING_ID = 94,
        /// PDN Type (section 8.34).
        PDN_TYPE = 99,
        /// PDN Connection, grouped (section 8.39).
        PDN_CONNECTION = 109,
        /// APN Restriction (section 8.57).
        APN_RESTRICTION = 127,
        /// Selection Mode (section 8.58).
        SELECTION_MODE = 128,
        /// Overload Control Information, grouped (section 8.111).
        OVERLOAD_CONTROL_INFORMATION = 180,
        /// Load Control Information, grouped (section 8.112).
        LOAD_CONTROL_INFORMATION = 181,
        /// Remote UE Context, grouped (section 8.123).
        REMOTE_UE_CONTEXT = 191,
        /// SCEF PDN Connection, grouped (section 8.128).
        SCEF_PDN_CONNECTION = 195,
        /// Private Extension (section 8.67).
        PRIVATE_EXTENSION = 255,
    }
}

impl IeType {
    /// Whether the element is a grouped IE whose value is a list of IEs (TS 29.274 section
    /// 8.2.1, "Grouped" in table 8.1-1): Bearer Context, PDN Connection, Overload Control
    /// Information, Load Control Information, Remote UE Context, SCEF PDN Connection.
    pub fn is_grouped(self) -> bool {
        matches!(self.0, 93 | 109 | 180 | 181 | 191 | 195)
    }
}

code_point! {
    /// A Cause value (TS 29.274 section 8.4, table 8.4-1).
    CauseValue {
        /// Request accepted.
        REQUEST_ACCEPTED = 16,
        /// Request accepted partially.
        REQUEST_ACCEPTED_PARTIALLY = 17,
        /// Context Not Found.
        CONTEXT_NOT_FOUND = 64,
        /// Invalid Message Format.
        INVALID_MESSAGE_FORMAT = 65,
        /// Version not supported by next peer.
        VERSION_NOT_SUPPORTED_BY_NEXT_PEER = 66,
        /// Invalid length.
        INVALID_LENGTH = 67,
        /// Mandatory IE incorrect.
        MANDATORY_IE_INCORRECT = 69,
        /// Mandatory IE missing.
        MANDATORY_IE_MISSING = 70,
        /// System failure.
        SYSTEM_FAILURE = 72,
        /// No resources available.
        NO_RESOURCES_AVAILABLE = 73,
        /// Missing or unknown APN.
        MISSING_OR_UNKNOWN_APN = 78,
        /// All dynamic addresses are occupied.
        ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED = 84,
        /// Request rejected (reason not specified).
        REQUEST_REJECTED = 94,
        /// Remote peer not responding.
        REMOTE_PEER_NOT_RESPONDING = 100,
        /// Conditional IE missing.
        CONDITIONAL_IE_MISSING = 103,
        /// GTP-C Entity Congestion.
        GTP_C_ENTITY_CONGESTION = 120,
    }
}

impl CauseValue {
    /// Whether the value is an acceptance (16 to 63, TS 29.274 section 8.4: "Acceptance in a
    /// Response / triggered Request").
    pub fn is_accepted(self) -> bool {
        (16..=63).contains(&self.0)
    }
}

code_point! {
    /// An F-TEID interface type (TS 29.274 section 8.22), six bits.
    InterfaceType {
        /// S1-U eNodeB GTP-U.
        S1U_ENODEB_GTP_U = 0,
        /// S1-U SGW GTP-U.
        S1U_SGW_GTP_U = 1,
        /// S5/S8 SGW GTP-U.
        S5S8_SGW_GTP_U = 4,
        /// S5/S8 PGW GTP-U.
        S5S8_PGW_GTP_U = 5,
        /// S5/S8 SGW GTP-C.
        S5S8_SGW_GTP_C = 6,
        /// S5/S8 PGW GTP-C.
        S5S8_PGW_GTP_C = 7,
        /// S11 MME GTP-C.
        S11_MME_GTP_C = 10,
        /// S11/S4 SGW GTP-C.
        S11S4_SGW_GTP_C = 11,
    }
}

code_point! {
    /// A RAT Type (TS 29.274 section 8.17, table 8.17-1).
    RatType {
        /// UTRAN.
        UTRAN = 1,
        /// GERAN.
        GERAN = 2,
        /// WLAN.
        WLAN = 3,
        /// GAN.
        GAN = 4,
        /// HSPA Evolution.
        HSPA_EVOLUTION = 5,
        /// EUTRAN (WB-E-UTRAN).
        EUTRAN = 6,
        /// Virtual.
        VIRTUAL = 7,
        /// EUTRAN-NB-IoT.
        EUTRAN_NB_IOT = 8,
        /// LTE-M.
        LTE_M = 9,
        /// NR.
        NR = 10,
    }
}
