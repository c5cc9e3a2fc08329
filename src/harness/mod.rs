//! Fuzzing harnesses: the bodies of the cargo-fuzz targets in `fuzz/`, kept in the crate so that
//! `cargo test` compiles and exercises them. Not part of the stable API.

/// GTPv2-C codec harness.
pub mod gtpv2;
/// Heartbeat codec and health monitor harnesses.
pub mod health;
pub mod l2tp;
pub mod mip;
/// Replication frame and envelope harness.
pub mod replica;
pub mod steering;
