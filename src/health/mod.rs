//! Peer liveness and load, shared by the three subsystems: a heartbeat wire format, a failure
//! detector and a load table with selection policies.
