//! proptest strategies for every wire message of the crate, so users can property-test their own
//! code with the generators the crate's tests use.

pub mod gtp;
