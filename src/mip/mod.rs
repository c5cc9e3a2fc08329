//! Mobile IPv4 (RFC 5944) Home Agents sharing one virtual HA address.
//!
//! [`wire`] is the registration codec; the Home Agent cluster stands on it.
pub mod wire;
