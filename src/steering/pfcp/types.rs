//! Open newtypes for PFCP code points (TS 29.244 sections 7.3, 8.1.2, 8.2.1, 8.2.2): unknown
//! values survive parse and emit.

use crate::io::reader::code_point;

code_point! {
    /// A PFCP message type (TS 29.244 section 7.3, table 7.3-1).
    MessageType(u8) {
        /// Heartbeat Request (section 7.4.2.1).
        HEARTBEAT_REQUEST = 1,
        /// Heartbeat Response (section 7.4.2.2).
        HEARTBEAT_RESPONSE = 2,
        /// PFD Management Request (section 7.4.3.1).
        PFD_MANAGEMENT_REQUEST = 3,
        /// PFD Management Response (section 7.4.3.2).
        PFD_MANAGEMENT_RESPONSE = 4,
        /// Association Setup Request (section 7.4.4.1).
        ASSOCIATION_SETUP_REQUEST = 5,
        /// Association Setup Response (section 7.4.4.2).
        ASSOCIATION_SETUP_RESPONSE = 6,
        /// Association Update Request (section 7.4.4.3).
        ASSOCIATION_UPDATE_REQUEST = 7,
        /// Association Update Response (section 7.4.4.4).
        ASSOCIATION_UPDATE_RESPONSE = 8,
        /// Association Release Request (section 7.4.4.5).
        ASSOCIATION_RELEASE_REQUEST = 9,
        /// Association Release Response (section 7.4.4.6).
        ASSOCIATION_RELEASE_RESPONSE = 10,
        /// Version Not Supported Response (section 7.4.4.7).
        VERSION_NOT_SUPPORTED_RESPONSE = 11,
        /// Node Report Request (section 7.4.5.1).
        NODE_REPORT_REQUEST = 12,
        /// Node Report Response (section 7.4.5.2).
        NODE_REPORT_RESPONSE = 13,
        /// Session Set Deletion Request (section 7.4.6.1).
        SESSION_SET_DELETION_REQUEST = 14,
        /// Session Set Deletion Response (section 7.4.6.2).
        SESSION_SET_DELETION_RESPONSE = 15,
        /// Session Establishment Request (section 7.5.2).
        SESSION_ESTABLISHMENT_REQUEST = 50,
        /// Session Establishment Response (section 7.5.3).
        SESSION_ESTABLISHMENT_RESPONSE = 51,
        /// Session Modification Request (section 7.5.4).
        SESSION_MODIFICATION_REQUEST = 52,
        /// Session Modification Response (section 7.5.5).
        SESSION_MODIFICATION_RESPONSE = 53,
        /// Session Deletion Request (section 7.5.6).
        SESSION_DELETION_REQUEST = 54,
        /// Session Deletion Response (section 7.5.7).
        SESSION_DELETION_RESPONSE = 55,
        /// Session Report Request (section 7.5.8).
        SESSION_REPORT_REQUEST = 56,
        /// Session Report Response (section 7.5.9).
        SESSION_REPORT_RESPONSE = 57,
    }
}

impl MessageType {
    /// Whether this is a session message (types 50 to 99, TS 29.244 section 7.3), whose header
    /// carries a SEID (S = 1, section 7.2.2.1); node messages carry none.
    pub fn is_session(self) -> bool {
        (50..100).contains(&self.0)
    }
}

code_point! {
    /// A PFCP information element type (TS 29.244 section 8.1.2, table 8.1.2-1). Types with bit 15
    /// set (32768 and up) are vendor-specific: their value starts with an Enterprise ID (section
    /// 8.1.1).
    IeType(u16) {
        /// Create PDR (grouped, table 7.5.2.2-1).
        CREATE_PDR = 1,
        /// PDI (grouped, table 7.5.2.2-2).
        PDI = 2,
        /// Create FAR (grouped, table 7.5.2.3-1).
        CREATE_FAR = 3,
        /// Forwarding Parameters (grouped, table 7.5.2.3-2).
        FORWARDING_PARAMETERS = 4,
        /// Duplicating Parameters (grouped, table 7.5.2.3-3).
        DUPLICATING_PARAMETERS = 5,
        /// Create URR (grouped, table 7.5.2.4-1).
        CREATE_URR = 6,
        /// Create QER (grouped, table 7.5.2.5-1).
        CREATE_QER = 7,
        /// Created PDR (grouped, table 7.5.3.2-1).
        CREATED_PDR = 8,
        /// Update PDR (grouped, table 7.5.4.2-1).
        UPDATE_PDR = 9,
        /// Update FAR (grouped, table 7.5.4.3-1).
        UPDATE_FAR = 10,
        /// Update Forwarding Parameters (grouped, table 7.5.4.3-2).
        UPDATE_FORWARDING_PARAMETERS = 11,
        /// Update BAR in a Session Report Response (grouped, table 7.5.9.2-1).
        UPDATE_BAR_SESSION_REPORT_RESPONSE = 12,
        /// Update URR (grouped, table 7.5.4.4-1).
        UPDATE_URR = 13,
        /// Update QER (grouped, table 7.5.4.5-1).
        UPDATE_QER = 14,
        /// Remove PDR (grouped, table 7.5.4.6-1).
        REMOVE_PDR = 15,
        /// Remove FAR (grouped, table 7.5.4.7-1).
        REMOVE_FAR = 16,
        /// Remove URR (grouped, table 7.5.4.8-1).
        REMOVE_URR = 17,
        /// Remove QER (grouped, table 7.5.4.9-1).
        REMOVE_QER = 18,
        /// Cause (section 8.2.1).
        CAUSE = 19,
        /// Source Interface (section 8.2.2).
        SOURCE_INTERFACE = 20,
        /// F-TEID (section 8.2.3).
        F_TEID = 21,
        /// Network Instance (section 8.2.4).
        NETWORK_INSTANCE = 22,
        /// Precedence (section 8.2.11).
        PRECEDENCE = 29,
        /// Offending IE (section 8.2.22).
        OFFENDING_IE = 40,
        /// Destination Interface (section 8.2.24).
        DESTINATION_INTERFACE = 42,
        /// UP Function Features (section 8.2.25).
        UP_FUNCTION_FEATURES = 43,
        /// Apply Action (section 8.2.26).
        APPLY_ACTION = 44,
        /// Load Control Information (grouped, table 7.5.3.3-1).
        LOAD_CONTROL_INFORMATION = 51,
        /// Overload Control Information (grouped, table 7.5.3.4-1).
        OVERLOAD_CONTROL_INFORMATION = 54,
        /// PDR ID (section 8.2.36).
        PDR_ID = 56,
        /// F-SEID (section 8.2.37).
        F_SEID = 57,
        /// Application ID's PFDs (grouped, table 7.4.3.1-2).
        APPLICATION_IDS_PFDS = 58,
        /// PFD context (grouped, table 7.4.3.1-3).
        PFD_CONTEXT = 59,
        /// Node ID (section 8.2.38).
        NODE_ID = 60,
        /// Application Detection Information (grouped, table 7.5.8.3-2).
        APPLICATION_DETECTION_INFORMATION = 68,
        /// Query URR (grouped, table 7.5.4.10-1).
        QUERY_URR = 77,
        /// Usage Report in a Session Modification Response (grouped, table 7.5.5.2-1).
        USAGE_REPORT_SESSION_MODIFICATION_RESPONSE = 78,
        /// Usage Report in a Session Deletion Response (grouped, table 7.5.7.2-1).
        USAGE_REPORT_SESSION_DELETION_RESPONSE = 79,
        /// Usage Report in a Session Report Request (grouped, table 7.5.8.3-1).
        USAGE_REPORT_SESSION_REPORT_REQUEST = 80,
        /// URR ID (section 8.2.54).
        URR_ID = 81,
        /// Downlink Data Report (grouped, table 7.5.8.2-1).
        DOWNLINK_DATA_REPORT = 83,
        /// Outer Header Creation (section 8.2.56).
        OUTER_HEADER_CREATION = 84,
        /// Create BAR (grouped, table 7.5.2.6-1).
        CREATE_BAR = 85,
        /// Update BAR in a Session Modification Request (grouped, table 7.5.4.11-1).
        UPDATE_BAR_SESSION_MODIFICATION_REQUEST = 86,
        /// Remove BAR (grouped, table 7.5.4.12-1).
        REMOVE_BAR = 87,
        /// BAR ID (section 8.2.57).
        BAR_ID = 88,
        /// CP Function Features (section 8.2.58).
        CP_FUNCTION_FEATURES = 89,
        /// UE IP Address (section 8.2.62).
        UE_IP_ADDRESS = 93,
        /// Outer Header Removal (section 8.2.64).
        OUTER_HEADER_REMOVAL = 95,
        /// Recovery Time Stamp (section 8.2.65).
        RECOVERY_TIME_STAMP = 96,
        /// Error Indication Report (grouped, table 7.5.8.4-1).
        ERROR_INDICATION_REPORT = 99,
        /// User Plane Path Failure Report (grouped, table 7.4.5.1.2-1).
        USER_PLANE_PATH_FAILURE_REPORT = 102,
        /// Update Duplicating Parameters (grouped, table 7.5.4.3-3).
        UPDATE_DUPLICATING_PARAMETERS = 105,
        /// FAR ID (section 8.2.74).
        FAR_ID = 108,
        /// QER ID (section 8.2.75).
        QER_ID = 109,
        /// User Plane IP Resource Information (section 8.2.82; [`super::teidri`]).
        USER_PLANE_IP_RESOURCE_INFORMATION = 116,
        /// Aggregated URRs (grouped, table 7.5.2.4-2).
        AGGREGATED_URRS = 118,
        /// Create Traffic Endpoint (grouped, table 7.5.2.7-1).
        CREATE_TRAFFIC_ENDPOINT = 127,
        /// Created Traffic Endpoint (grouped, table 7.5.3.5-1).
        CREATED_TRAFFIC_ENDPOINT = 128,
        /// Update Traffic Endpoint (grouped, table 7.5.4.13-1).
        UPDATE_TRAFFIC_ENDPOINT = 129,
        /// Remove Traffic Endpoint (grouped, table 7.5.4.14-1).
        REMOVE_TRAFFIC_ENDPOINT = 130,
        /// Ethernet Packet Filter (grouped, table 7.5.2.2-3).
        ETHERNET_PACKET_FILTER = 132,
        /// Ethernet Traffic Information (grouped, table 7.5.8.3-3).
        ETHERNET_TRAFFIC_INFORMATION = 143,
        /// Additional Monitoring Time (grouped, table 7.5.2.4-3).
        ADDITIONAL_MONITORING_TIME = 147,
    }
}

impl IeType {
    /// Whether bit 15 is set: a vendor-specific IE whose value starts with a 16-bit Enterprise
    /// ID (TS 29.244 section 8.1.1).
    pub fn is_enterprise(self) -> bool {
        self.0 & 0x8000 != 0
    }

    /// Whether this codec parses the value of this type as a list of IEs (a grouped IE of
    /// TS 29.244 table 8.1.2-1 that is listed as a constant of [`IeType`]).
    pub fn is_grouped(self) -> bool {
        matches!(
            self.0,
            1..=18
                | 51
                | 54
                | 58
                | 59
                | 68
                | 77..=80
                | 83
                | 85..=87
                | 99
                | 102
                | 105
                | 118
                | 127..=130
                | 132
                | 143
                | 147
        )
    }
}

code_point! {
    /// A PFCP cause value (TS 29.244 section 8.2.1, table 8.2.1-1): 1 accepts, 64 and up reject.
    Cause(u8) {
        /// Request accepted (success).
        REQUEST_ACCEPTED = 1,
        /// More Usage Report to send.
        MORE_USAGE_REPORT_TO_SEND = 2,
        /// Request rejected (reason not specified).
        REQUEST_REJECTED = 64,
        /// Session context not found.
        SESSION_CONTEXT_NOT_FOUND = 65,
        /// Mandatory IE missing.
        MANDATORY_IE_MISSING = 66,
        /// Conditional IE missing.
        CONDITIONAL_IE_MISSING = 67,
        /// Invalid length.
        INVALID_LENGTH = 68,
        /// Mandatory IE incorrect.
        MANDATORY_IE_INCORRECT = 69,
        /// Invalid Forwarding Policy.
        INVALID_FORWARDING_POLICY = 70,
        /// Invalid F-TEID allocation option.
        INVALID_F_TEID_ALLOCATION_OPTION = 71,
        /// No established PFCP Association.
        NO_ESTABLISHED_PFCP_ASSOCIATION = 72,
        /// Rule creation/modification Failure.
        RULE_CREATION_MODIFICATION_FAILURE = 73,
        /// PFCP entity in congestion.
        PFCP_ENTITY_IN_CONGESTION = 74,
        /// No resources available.
        NO_RESOURCES_AVAILABLE = 75,
        /// Service not supported.
        SERVICE_NOT_SUPPORTED = 76,
        /// System failure.
        SYSTEM_FAILURE = 77,
        /// Redirection Requested.
        REDIRECTION_REQUESTED = 78,
        /// All dynamic addresses are occupied (Rel-16: the UP function was asked to allocate
        /// the UE IP address and has none left).
        ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED = 79,
    }
}

impl Cause {
    /// Whether the cause accepts the request (values 1 to 63, TS 29.244 table 8.2.1-1).
    pub fn is_accepted(self) -> bool {
        (1..64).contains(&self.0)
    }
}

code_point! {
    /// An interface value of the Source Interface (TS 29.244 section 8.2.2) and Destination
    /// Interface (section 8.2.24) IEs: the low four bits of the octet.
    Interface(u8) {
        /// Access (uplink traffic from the UE).
        ACCESS = 0,
        /// Core (downlink traffic towards the UE).
        CORE = 1,
        /// SGi-LAN / N6-LAN.
        SGI_LAN_N6_LAN = 2,
        /// CP-function.
        CP_FUNCTION = 3,
        /// 5G VN Internal.
        VN_INTERNAL = 4,
    }
}
