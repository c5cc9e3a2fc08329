//! The GTPv1 wire codec (3GPP TS 29.060): GTP-C and GTP-U headers, messages and IEs.
