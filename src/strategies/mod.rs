//! proptest strategies for every wire message of the crate, so users can property-test their own
//! code with the generators the crate's tests use.
/// Strategies for the heartbeat wire format.
pub mod health;

pub mod l2tp;
pub mod mip;

pub mod gtp;
pub mod gtpv2;
pub mod pfcp;
pub mod steering;
