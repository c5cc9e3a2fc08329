//! L2TPv2 (RFC 2661) with LNS load redirection.
//!
//! [`wire`] is the message codec; the LAC and LNS endpoints stand on it.
pub mod wire;
